//! Orchestration: releases, backfill, the run history (`runs`, `show`, `logs`),
//! `stop` from another shell, lost runs, and the scheduler (two racing on one
//! workspace, one SIGKILLed and restarted, SIGTERM's grace period, reloads).
//!
//! Scheduler tests run on the real clock, shifted (`--clock-offset`, hidden) so
//! that a minute's tick comes a few seconds after the scheduler starts: they watch
//! a real tick fire without waiting up to a minute for it.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{Started, start, stderr, stdout, wfr, write};

/// `hourly` (every hour in Berlin, a param `day`), `slow` (a stage that sleeps
/// until it is stopped) and `minutely` (every minute, a short stage).
fn workspace(dir: &Path) {
    write(
        dir,
        "conf/w.yml",
        r#"
hourly:
  type: Workflow
  on:
    schedule:
      - cronjob: "0 * * * *"
        timezone: "Europe/Berlin"
  params:
    day: str
  jobs:
    j:
      stages:
        - name: say
          echo: "day is ${{ params.day }}"
slow:
  type: Workflow
  params:
    secs:
      type: str
      default: "600"
  jobs:
    j:
      stages:
        - name: wait
          bash: echo started > started; sleep ${{ params.secs }}
minutely:
  type: Workflow
  on:
    schedule:
      - cronjob: "* * * * *"
  params:
    sleep:
      type: str
      default: "0"
  jobs:
    j:
      stages:
        - name: s
          bash: sleep ${{ params.sleep }}; echo ran >> ran.txt
"#,
    );
}

fn runs_json(dir: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["runs", "--output", "json", "--limit", "100"];
    args.extend_from_slice(extra);
    let out = wfr(&args, dir, None);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_release_runs_once_per_logical_time_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let release = |extra: &[&str]| {
        let mut args = vec![
            "release",
            "hourly",
            "--at",
            "2026-03-01 07:00",
            "-p",
            "day=${{ release.logical_date | fmt('%Y-%m-%d %H:%M') }} ${{ release.run_id }}",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        wfr(&args, dir.path(), None)
    };
    let first = release(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let ctx: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    // 07:00 in Berlin is 06:00 UTC; the param read the release.
    let day = ctx["params"]["day"].as_str().expect("day");
    assert!(day.starts_with("2026-03-01 06:00 "), "{ctx:#}");
    assert_eq!(ctx["release"]["type"], "normal", "{ctx:#}");
    assert_eq!(ctx["release"]["logical_date"], "2026-03-01 06:00:00+00:00");
    let history = runs_json(dir.path(), &[]);
    assert_eq!(history.len(), 1);
    let run_id = history[0]["run_id"].as_str().expect("id").to_string();
    assert!(day.ends_with(&run_id), "{day} / {run_id}");
    assert_eq!(history[0]["release"], "2026-03-01T06:00:00Z");

    // Again: skipped, whatever that run's status.
    let again = release(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("already released as {run_id}")),
        "{}",
        stdout(&again)
    );
    assert_eq!(runs_json(dir.path(), &[]).len(), 1);

    // --force: a new run; the history keeps both.
    let forced = release(&["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let ctx: serde_json::Value = serde_json::from_slice(&forced.stdout).expect("json");
    assert_eq!(ctx["release"]["type"], "force");
    let history = runs_json(dir.path(), &[]);
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|r| r["release"] == "2026-03-01T06:00:00Z")
    );
}

#[test]
fn a_release_time_that_is_not_a_tick_is_refused_with_the_nearest_ticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let out = wfr(
        &[
            "release",
            "hourly",
            "--at",
            "2026-03-01T06:30:00Z",
            "-p",
            "day=x",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("is not a tick of workflow `hourly`"),
        "{text}"
    );
    assert!(
        text.contains("2026-03-01T07:00:00+01:00 (06:00:00Z)")
            && text.contains("2026-03-01T08:00:00+01:00 (07:00:00Z)"),
        "{text}"
    );
    // A local time that does not exist (Berlin springs forward at 02:00).
    let out = wfr(
        &[
            "release",
            "hourly",
            "--at",
            "2026-03-29 02:00",
            "-p",
            "day=x",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--at 2026-03-29 02:00"),
        "{}",
        stderr(&out)
    );
    // Nothing was released or run.
    assert!(runs_json(dir.path(), &[]).is_empty());
}

#[test]
fn backfill_releases_each_tick_oldest_first_and_skips_released_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let by_hand = wfr(
        &[
            "release",
            "hourly",
            "--at",
            "2026-01-01T02:00:00Z",
            "-p",
            "day=x",
        ],
        dir.path(),
        None,
    );
    assert!(by_hand.status.success(), "{}", stderr(&by_hand));
    let out = wfr(
        &[
            "backfill",
            "hourly",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-01T04:30:00Z",
            "-p",
            "day=${{ release.logical_date }}",
        ],
        dir.path(),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let summary = stdout(&out);
    assert!(summary.contains("5 ticks"), "{summary}");
    assert!(summary.contains("4 SUCCESS"), "{summary}");
    assert!(summary.contains("1 already released"), "{summary}");
    let mut history = runs_json(dir.path(), &[]);
    history.reverse();
    let releases: Vec<&str> = history
        .iter()
        .filter_map(|r| r["release"].as_str())
        .collect();
    // The one by hand first, then the backfill's, oldest first.
    assert_eq!(
        releases,
        [
            "2026-01-01T02:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z",
            "2026-01-01T03:00:00Z",
            "2026-01-01T04:00:00Z"
        ]
    );
    // The params rendered per release.
    let record = history[1]["record"].as_str().expect("record");
    let params = std::fs::read_to_string(Path::new(record).join("params.json")).expect("params");
    assert!(params.contains("2026-01-01 00:00:00"), "{params}");
    // Again: everything was released.
    let again = wfr(
        &[
            "backfill",
            "hourly",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-01T04:30:00Z",
            "-p",
            "day=y",
        ],
        dir.path(),
        None,
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("5 already released"),
        "{}",
        stdout(&again)
    );
    // Without a schedule there is nothing to backfill.
    let out = wfr(
        &[
            "backfill",
            "slow",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no on.schedule"),
        "{}",
        stderr(&out)
    );
}

/// `runs`, `show`, `logs --follow` and `stop` on a run that is going, from
/// other shells; the run ends as a signal would end it.
#[test]
fn a_running_run_is_listed_shown_followed_and_stopped_from_another_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let run = start(&["run", "slow"], dir.path());
    wait_until("the stage to start", Duration::from_secs(20), || {
        dir.path().join("started").exists()
    });
    let history = runs_json(dir.path(), &["--status", "running"]);
    assert_eq!(history.len(), 1, "{history:?}");
    let running = &history[0];
    assert_eq!(running["ended"], serde_json::Value::Null);
    assert_eq!(running["workflow"], "slow");
    for key in [
        "run_id", "workflow", "status", "release", "started", "ended", "rerun_of", "record",
    ] {
        assert!(running.get(key).is_some(), "{key} in {running}");
    }
    let id = running["run_id"].as_str().expect("id").to_string();
    // `show` reads the run's log, which is written out every 50 ms.
    let mut text = String::new();
    wait_until(
        "show to list the running stage",
        Duration::from_secs(10),
        || {
            let shown = wfr(&["show", &id], dir.path(), None);
            assert!(shown.status.success(), "{}", stderr(&shown));
            text = stdout(&shown);
            text.contains("    wait ")
        },
    );
    assert!(text.contains("status    RUNNING"), "{text}");
    // Follow the log from another shell while it is stopped from a third.
    let follow = start(&["logs", &id, "--follow"], dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let stop = wfr(&["stop", &id], dir.path(), None);
    assert_eq!(stop.status.code(), Some(0), "{}", stderr(&stop));
    assert!(stdout(&stop).contains("CANCEL"), "{}", stdout(&stop));
    let ended = run.end_within(Duration::from_secs(20));
    assert_eq!(ended.code, Some(3), "{}", ended.stderr);
    let followed = follow.end_within(Duration::from_secs(10));
    assert_eq!(followed.code, Some(0));
    assert!(
        followed.stdout.contains("run started"),
        "{}",
        followed.stdout
    );
    assert!(
        followed.stdout.contains("run ended") && followed.stdout.contains("CANCEL"),
        "{}",
        followed.stdout
    );
    let record = dir.path().join(".wfc/runs").join(&id).join("context.json");
    let ctx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).expect("record")).expect("json");
    assert_eq!(ctx["status"], "CANCEL");
    let after = runs_json(dir.path(), &[]);
    assert_eq!(after[0]["status"], "CANCEL");
    assert!(after[0]["ended"].is_string());
    // Stopping it again: it has ended.
    let again = wfr(&["stop", &id], dir.path(), None);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already ended CANCEL"),
        "{}",
        stderr(&again)
    );
    // JSON logs are the record's lines.
    let json = wfr(&["logs", &id, "--log-format", "json"], dir.path(), None);
    let lines = crate::support::json_lines(&stdout(&json));
    assert!(
        lines.iter().any(|l| l["event"] == "run_ended"),
        "{}",
        stdout(&json)
    );
}

/// A run whose `wfr` was SIGKILLed (its guard too) is found by the next command
/// that looks: LOST in the history, its processes and record cleaned up.
#[test]
fn a_run_whose_wfr_died_is_marked_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let tmp = crate::support::private_tmp(dir.path());
    let run = crate::support::start_with(
        &["run", "slow", "-p", "secs=613"],
        dir.path(),
        &[("TMPDIR", &tmp)],
    );
    wait_until("the stage to start", Duration::from_secs(20), || {
        dir.path().join("started").exists()
    });
    // The guard first (so that nothing cleans up at once), then wfr.
    nix::sys::signal::kill(crate::support::guard_of(run.child.id()), Signal::SIGKILL)
        .expect("kill the guard");
    run.signal(Signal::SIGKILL);
    let _ = run.end_within(Duration::from_secs(5));
    let out = crate::support::wfr_with(
        &["runs", "--output", "json"],
        dir.path(),
        None,
        &[("TMPDIR", &tmp)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("was lost"), "{}", stderr(&out));
    let history: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(history[0]["status"], "LOST", "{history:?}");
    assert!(history[0]["ended"].is_string());
    assert!(
        crate::support::processes_running("sleep 613").is_empty(),
        "the stage's sleep outlived it"
    );
    let entries = crate::support::run_entries(&dir.path().join(".wfc/runs"));
    assert!(
        entries.iter().all(|e| !e.contains("partial")),
        "{entries:?}"
    );
}

#[test]
fn records_made_before_the_history_are_indexed_and_a_newer_history_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let run = wfr(
        &[
            "release",
            "hourly",
            "--at",
            "2026-01-01T00:00:00Z",
            "-p",
            "day=x",
        ],
        dir.path(),
        None,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for file in ["wfc.db", "wfc.db-wal", "wfc.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(".wfc").join(file));
    }
    let history = runs_json(dir.path(), &[]);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["workflow"], "hourly");
    assert_eq!(history[0]["status"], "SUCCESS");

    let db = rusqlite::Connection::open(dir.path().join(".wfc/wfc.db")).expect("open");
    db.pragma_update(None, "user_version", 99).expect("set");
    drop(db);
    for args in [&["runs"][..], &["run", "slow"][..]] {
        let out = wfr(args, dir.path(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("written by a newer wfc (schema 99"),
            "{}",
            stderr(&out)
        );
    }
}

/// The clock offset that puts the next minute's tick `lead` seconds from now.
pub(crate) fn offset_before_tick(lead: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs_f64();
    format!("{}", 60.0 - now % 60.0 - lead)
}

fn scheduler(dir: &Path, offset: &str, extra: &[&str]) -> Started {
    let mut args = vec!["schedule", "--clock-offset", offset, "--log-format", "json"];
    args.extend_from_slice(extra);
    start(&args, dir)
}

pub(crate) fn fired(lines: &str) -> Vec<serde_json::Value> {
    crate::support::json_lines(lines)
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("fired"))
        })
        .collect()
}

/// Two schedulers on one workspace, a real tick between them: it fires once.
#[test]
fn two_schedulers_on_one_workspace_fire_a_tick_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let offset = offset_before_tick(3.0);
    let a = scheduler(dir.path(), &offset, &["--for", "6s"]);
    let b = scheduler(dir.path(), &offset, &["--for", "6s"]);
    let (a, b) = (
        a.end_within(Duration::from_secs(30)),
        b.end_within(Duration::from_secs(30)),
    );
    assert_eq!(
        (a.code, b.code),
        (Some(0), Some(0)),
        "{}\n{}",
        a.stderr,
        b.stderr
    );
    let fires: Vec<serde_json::Value> = fired(&a.stderr)
        .into_iter()
        .chain(fired(&b.stderr))
        .collect();
    // `minutely` fired once (hourly may too, on the hour).
    let minutely: Vec<&serde_json::Value> = fires
        .iter()
        .filter(|f| f["workflow"] == "minutely")
        .collect();
    assert_eq!(minutely.len(), 1, "{}\n{}", a.stderr, b.stderr);
    let late = minutely[0]["late"].as_f64().expect("lateness");
    assert!(late < 1.0, "fired {late}s late");
    wait_until("the run to end", Duration::from_secs(20), || {
        runs_json(dir.path(), &["--workflow", "minutely"])
            .first()
            .is_some_and(|r| r["status"] == "SUCCESS")
    });
    let history = runs_json(dir.path(), &["--workflow", "minutely"]);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ran.txt")).expect("ran"),
        "ran\n"
    );
}

/// A scheduler SIGKILLed after a tick fired, restarted at once with `--catchup
/// all`: the tick is not fired again, and its run (a `wfr` of its own) ended.
#[test]
fn a_sigkilled_scheduler_restarted_fires_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let offset = offset_before_tick(3.0);
    let first = scheduler(dir.path(), &offset, &["--catchup", "all"]);
    wait_until("a tick to fire", Duration::from_secs(20), || {
        !fired(&first.stderr_so_far()).is_empty()
    });
    first.signal(Signal::SIGKILL);
    let _ = first.end_within(Duration::from_secs(5));
    let second = scheduler(dir.path(), &offset, &["--catchup", "all", "--for", "3s"]);
    let second = second.end_within(Duration::from_secs(30));
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(
        fired(&second.stderr)
            .iter()
            .all(|f| f["workflow"] != "minutely"),
        "{}",
        second.stderr
    );
    wait_until("the run to end", Duration::from_secs(20), || {
        runs_json(dir.path(), &["--workflow", "minutely"])
            .first()
            .is_some_and(|r| r["status"] == "SUCCESS")
    });
    assert_eq!(runs_json(dir.path(), &["--workflow", "minutely"]).len(), 1);
}

/// SIGTERM: no more ticks fire; a running run gets the grace period, then is
/// cancelled (its history says so), and the scheduler ends 0.
#[test]
fn sigterm_gives_running_runs_the_grace_period_then_cancels_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/w.yml",
        "long:\n  type: Workflow\n  on:\n    schedule:\n      - cronjob: \"* * * * *\"\n  jobs:\n    j:\n      stages:\n        - name: s\n          bash: echo started > started; sleep 612\n",
    );
    let offset = offset_before_tick(3.0);
    let scheduler = scheduler(dir.path(), &offset, &["--grace", "1s"]);
    wait_until("the run to start", Duration::from_secs(20), || {
        dir.path().join("started").exists()
    });
    scheduler.signal(Signal::SIGTERM);
    let ended = scheduler.end_within(Duration::from_secs(20));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("cancelling the runs still going"),
        "{}",
        ended.stderr
    );
    let history = runs_json(dir.path(), &[]);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "CANCEL", "{history:?}");
    assert!(crate::support::processes_running("sleep 612").is_empty());
}

/// A workflow file added while the scheduler runs is scheduled.
#[test]
fn the_scheduler_reloads_changed_workflows() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/none.yml",
        "none:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: s\n",
    );
    let offset = offset_before_tick(5.5);
    let scheduler = scheduler(dir.path(), &offset, &["--for", "8s"]);
    std::thread::sleep(Duration::from_millis(500));
    write(
        dir.path(),
        "conf/new.yml",
        "fresh:\n  type: Workflow\n  on:\n    schedule:\n      - cronjob: \"* * * * *\"\n  jobs:\n    j:\n      stages:\n        - name: s\n",
    );
    let ended = scheduler.end_within(Duration::from_secs(30));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(ended.stderr.contains("reloaded"), "{}", ended.stderr);
    let fires = fired(&ended.stderr);
    assert_eq!(fires.len(), 1, "{}", ended.stderr);
    assert_eq!(fires[0]["workflow"], "fresh");
}

/// A scheduler killed between claiming a tick and starting its run leaves a
/// claim without a run: the next scheduler starts that run (once).
#[test]
fn a_claim_left_without_its_run_is_taken_over_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    assert!(runs_json(dir.path(), &[]).is_empty());
    let claimed = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(90))
        .expect("a time");
    let tick = jiff::Timestamp::from_second(1_767_225_600).expect("2026-01-01T00:00:00Z");
    let db = rusqlite::Connection::open(dir.path().join(".wfc/wfc.db")).expect("open");
    db.execute(
        "INSERT INTO releases (workflow, logical, run_id, claimed, claimed_by) VALUES ('minutely', ?1, 'orphaned-run', ?2, 'schedule')",
        rusqlite::params![tick.as_microsecond(), claimed.as_microsecond()],
    )
    .expect("a claim");
    drop(db);
    for _ in 0..2 {
        let scheduler = scheduler(dir.path(), "0", &["--for", "2s", "--catchup", "none"]);
        let ended = scheduler.end_within(Duration::from_secs(30));
        assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    }
    let history = runs_json(dir.path(), &[]);
    let orphan: Vec<_> = history
        .iter()
        .filter(|r| r["run_id"] == "orphaned-run")
        .collect();
    assert_eq!(orphan.len(), 1, "{history:?}");
    assert_eq!(orphan[0]["release"], "2026-01-01T00:00:00Z");
    assert_eq!(orphan[0]["status"], "SUCCESS", "{history:?}");
}

/// A Ctrl-C at the scheduler's terminal (SIGINT to its whole process group)
/// reaches the scheduler alone: its running run gets the grace period and ends
/// as it would have.
#[test]
fn a_ctrl_c_at_the_schedulers_terminal_gives_running_runs_their_grace() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/w.yml",
        "brief:\n  type: Workflow\n  on:\n    schedule:\n      - cronjob: \"* * * * *\"\n  jobs:\n    j:\n      stages:\n        - name: s\n          bash: echo started > started; sleep 2; echo done > done\n",
    );
    let offset = offset_before_tick(3.0);
    let err = tempfile::NamedTempFile::new().expect("stderr file");
    let mut scheduler = std::process::Command::new(crate::WFR)
        .args(["schedule", "--clock-offset", &offset, "--grace", "30s"])
        .current_dir(dir.path())
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(err.reopen().expect("stderr"))
        // A terminal's foreground group, of the scheduler's own.
        .process_group(0)
        .spawn()
        .expect("spawn wfr schedule");
    wait_until("the run to start", Duration::from_secs(20), || {
        dir.path().join("started").exists()
    });
    let group = nix::unistd::Pid::from_raw(i32::try_from(scheduler.id()).expect("pid"));
    nix::sys::signal::killpg(group, Signal::SIGINT).expect("Ctrl-C");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = scheduler.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(err.path()).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        dir.path().join("done").exists(),
        "the run was cut short:\n{text}"
    );
    let history = runs_json(dir.path(), &[]);
    assert_eq!(history[0]["status"], "SUCCESS", "{history:?}");
}

/// A release whose run cannot start (here: logging settings that do not
/// parse) does not keep its time: the next release of it runs.
#[test]
fn a_release_that_could_not_start_leaves_its_time_free() {
    let dir = tempfile::tempdir().expect("tempdir");
    workspace(dir.path());
    let args = [
        "release",
        "hourly",
        "--at",
        "2026-01-01T05:00:00Z",
        "-p",
        "day=x",
    ];
    let out = crate::support::wfr_with(&args, dir.path(), None, &[("WFR_LOG", "loud")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = wfr(&args, dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("already released"),
        "{}",
        stdout(&out)
    );
    let history = runs_json(dir.path(), &["--status", "success"]);
    assert_eq!(history.len(), 1, "{history:?}");
}
