//! Nothing a stage starts outlives it: not when it ends, is cancelled, times out,
//! when wfr gets a second signal, or when wfr is killed.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{
    Ended, Tmpfs, alive, find_guard, guard_of, indent, pids_in, private_tmp, run_entries, start,
    start_with, still_running, wait_for, wfr, wfr_with, write,
};

/// A workflow `w` whose stage `s` runs `script` with `$PIDS` (a folder for pid
/// files) in its environment, and `extra` stages after it.
fn workflow(dir: &Path, stage_keys: &str, script: &str, extra: &str) {
    let pids = dir.join("pids");
    std::fs::create_dir_all(&pids).expect("pids");
    let indented = indent(script, 12);
    write(
        dir,
        "conf/w.yml",
        &format!(
            "w:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: s\n          id: s\n{stage_keys}          env:\n            PIDS: {}\n          bash: |\n{indented}{extra}",
            pids.display()
        ),
    );
}

/// Processes that leave the stage's group, that outlive their parent, that
/// hold the stage's output: all started in the background.
const LEAVERS: &str = r#"note() { echo $2 > "$PIDS/.$1"; mv "$PIDS/.$1" "$PIDS/$1"; }
setsid sleep 7301 & note setsid $!
nohup sleep 7302 >/dev/null 2>&1 & note nohup $!
(setsid sh -c 'sleep 7303 & echo $! > "$PIDS/.orphan"; mv "$PIDS/.orphan" "$PIDS/orphan"; wait' &)
sleep 7304 & note plain $!
while [ ! -f "$PIDS/orphan" ]; do sleep 0.01; done"#;

fn records(dir: &Path) -> Vec<String> {
    run_entries(&dir.join(".wfc/runs"))
}

/// The one record of the run, closed (no `.partial` left), and its context.
fn the_record(dir: &Path) -> serde_json::Value {
    let entries = records(dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(!entries[0].contains("partial"), "{entries:?}");
    let text =
        std::fs::read_to_string(dir.join(".wfc/runs").join(&entries[0]).join("context.json"))
            .expect("context.json");
    serde_json::from_str(&text).expect("context is JSON")
}

/// No scratch folder of the process `pid` is left in the temporary folder.
fn no_scratch_of(pid: u32) {
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("wfr-{pid}-")))
        .collect();
    assert!(left.is_empty(), "scratch folders left: {left:?}");
}

#[test]
fn what_a_stage_leaves_running_is_killed_when_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = "        - name: check\n          id: check\n          bash: |\n            for f in $PIDS/*; do kill -0 $(cat $f) 2>/dev/null && echo \"$(basename $f)\"; done; true\n          env:\n            PIDS: ${{ stages.s.outputs.stdout }}\n";
    workflow(
        dir.path(),
        "",
        &format!("{LEAVERS}\n(sleep 0.2; echo late) &\necho \"$PIDS\""),
        check,
    );
    let run = start(&["run", "w", "--output", "json"], dir.path());
    let pid = run.child.id();
    let ended = run.end_within(Duration::from_secs(20));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let pids = pids_in(&dir.path().join("pids"));
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert_eq!(still_running(&pids), Vec::<String>::new());
    let ctx: serde_json::Value = serde_json::from_str(&ended.stdout).expect("json");
    // The next stage saw none of them.
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["check"]["outputs"]["stdout"],
        serde_json::Value::Null,
        "{ctx:#}"
    );
    // The stage's own output is whole; what its leftovers would print later is not waited for.
    assert_eq!(
        ctx["jobs"]["j"]["stages"]["s"]["outputs"]["stdout"],
        dir.path().join("pids").display().to_string()
    );
    no_scratch_of(pid);
}

/// A stage whose background child holds its output (and leaves its group) is
/// stopped by `--timeout`, by its own `timeout` and by SIGTERM, and the child
/// with it.
#[test]
fn timeouts_and_signals_stop_a_stage_whose_children_hold_its_output() {
    let script = "setsid sleep 7311 & echo $! > \"$PIDS/setsid\"\nsleep 7312 & echo $! > \"$PIDS/.plain\"; mv \"$PIDS/.plain\" \"$PIDS/plain\"\nwait";
    for (how, keys, args, code) in [
        ("--timeout", "", &["run", "w", "--timeout", "1"][..], 4),
        (
            "a stage timeout",
            "          timeout: 1\n",
            &["run", "w"][..],
            1,
        ),
        ("SIGTERM", "", &["run", "w"][..], 3),
        // The terminal went away.
        ("SIGHUP", "", &["run", "w"][..], 3),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        workflow(dir.path(), keys, script, "");
        let run = start(args, dir.path());
        if let Some(signal) = match how {
            "SIGTERM" => Some(Signal::SIGTERM),
            "SIGHUP" => Some(Signal::SIGHUP),
            _ => None,
        } {
            wait_for(&dir.path().join("pids/plain"));
            run.signal(signal);
        }
        let ended = run.end_within(Duration::from_secs(20));
        assert_eq!(ended.code, Some(code), "{how}: {}", ended.stderr);
        let pids = pids_in(&dir.path().join("pids"));
        assert_eq!(pids.len(), 2, "{how}: {pids:?}");
        assert_eq!(still_running(&pids), Vec::<String>::new(), "{how}");
        the_record(dir.path());
    }
}

/// The second signal skips the grace period: a stage that ignores SIGTERM is
/// killed at once, with what it started, and the record is closed as cancelled.
/// A third signal (which may come while the run ends) does the same.
#[test]
fn a_second_signal_kills_every_stage_process_and_closes_the_record() {
    let script = "trap '' TERM\nsetsid sleep 7321 & echo $! > \"$PIDS/setsid\"\nsleep 7322 & echo $! > \"$PIDS/.plain\"; mv \"$PIDS/.plain\" \"$PIDS/plain\"\nwhile true; do sleep 1; done";
    for signals in [2, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        workflow(dir.path(), "", script, "");
        let run = start(&["run", "w"], dir.path());
        let pid = run.child.id();
        wait_for(&dir.path().join("pids/plain"));
        let started = std::time::Instant::now();
        for _ in 0..signals {
            run.signal(Signal::SIGTERM);
            std::thread::sleep(Duration::from_millis(100));
        }
        let ended = run.end_within(Duration::from_secs(10));
        // Well within the two seconds of grace a first signal gives.
        assert!(
            started.elapsed() < Duration::from_millis(1900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(ended.code, Some(3), "{}", ended.stderr);
        let pids = pids_in(&dir.path().join("pids"));
        assert_eq!(still_running(&pids), Vec::<String>::new());
        let ctx = the_record(dir.path());
        assert_eq!(ctx["status"], "CANCEL", "{ctx:#}");
        no_scratch_of(pid);
    }
}

/// SIGKILL leaves wfr no time: its stage's first process dies with it, and its
/// guard kills the rest, closes the record as cancelled and removes its scratch
/// folder.
#[test]
fn when_wfr_is_killed_its_guard_cleans_up_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        &format!("{LEAVERS}\nnote bash $BASHPID\nwait"),
        "",
    );
    let run = start(&["run", "w"], dir.path());
    let pid = run.child.id();
    wait_for(&dir.path().join("pids/bash"));
    // The log (which the record's job statuses come from) is written every 50 ms.
    std::thread::sleep(Duration::from_millis(300));
    run.signal(Signal::SIGKILL);
    let ended = run.end_within(Duration::from_secs(5));
    assert_eq!(ended.code, None);
    let pids = pids_in(&dir.path().join("pids"));
    assert_eq!(pids.len(), 5, "{pids:?}");
    assert_eq!(still_running(&pids), Vec::<String>::new());
    // The guard closes the record and removes the scratch folder a moment after.
    let started = std::time::Instant::now();
    let scratch = |name: &str| name.starts_with(&format!("wfr-{pid}-"));
    while records(dir.path()).iter().any(|r| r.contains("partial"))
        || run_entries(&std::env::temp_dir())
            .iter()
            .any(|n| scratch(n))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            records(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ctx = the_record(dir.path());
    assert_eq!(ctx["status"], "CANCEL", "{ctx:#}");
    assert_eq!(ctx["jobs"]["j"]["status"], "CANCEL", "{ctx:#}");
    assert!(
        ctx["errors"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("was killed")),
        "{ctx:#}"
    );
    no_scratch_of(pid);
}

/// When the guard dies with wfr (the whole session killed), the next wfr that
/// starts cleans up: it kills the marked processes, closes the record and
/// removes the scratch folder.
#[test]
fn the_next_wfr_cleans_up_after_one_killed_with_its_guard() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(dir.path(), "", &format!("{LEAVERS}\nwait"), "");
    write(
        dir.path(),
        "conf/quick.yml",
        "quick:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: hi, echo: hi}\n",
    );
    let tmp = private_tmp(dir.path());
    let run = start_with(&["run", "w"], dir.path(), &[("TMPDIR", &tmp)]);
    let pid = run.child.id();
    wait_for(&dir.path().join("pids/orphan"));
    let guard = guard_of(pid);
    nix::sys::signal::kill(guard, Signal::SIGKILL).expect("kill the guard");
    run.signal(Signal::SIGKILL);
    run.end_within(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    // Left behind: the record, the scratch folder, and what left the stage's group.
    assert!(records(dir.path()).iter().any(|r| r.ends_with(".partial")));
    let pids = pids_in(&dir.path().join("pids"));
    assert!(pids.iter().any(|(_, p)| alive(*p)), "{pids:?}");
    let out = wfr_with(&["run", "quick"], dir.path(), None, &[("TMPDIR", &tmp)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(still_running(&pids), Vec::<String>::new());
    let closed: Vec<String> = records(dir.path());
    assert_eq!(closed.len(), 2, "{closed:?}");
    assert!(closed.iter().all(|r| !r.contains("partial")), "{closed:?}");
    no_scratch_of(pid);
}

/// A guard that dies while wfr runs is started again with the next stage,
/// which it then guards.
#[test]
fn a_guard_that_dies_is_started_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let next = "        - name: next\n          env:\n            PIDS: ${{ stages.s.outputs.stdout }}\n          bash: |\n            setsid sleep 7331 & echo $! > \"$PIDS/.next\"; mv \"$PIDS/.next\" \"$PIDS/next\"\n            wait\n";
    workflow(
        dir.path(),
        "",
        "while [ ! -f \"$PIDS/../go\" ]; do sleep 0.05; done\necho \"$PIDS\"",
        next,
    );
    let run = start(&["run", "w"], dir.path());
    let pid = run.child.id();
    // The first stage runs: its guard is there.
    let started = std::time::Instant::now();
    let first = loop {
        if let Some(guard) = find_guard(pid) {
            break guard;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no guard");
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(first, Signal::SIGKILL).expect("kill the guard");
    std::fs::write(dir.path().join("go"), "").expect("go");
    wait_for(&dir.path().join("pids/next"));
    let second = guard_of(pid);
    assert_ne!(second, first);
    run.signal(Signal::SIGKILL);
    run.end_within(Duration::from_secs(5));
    let pids = pids_in(&dir.path().join("pids"));
    assert_eq!(still_running(&pids), Vec::<String>::new());
}

fn ended_json(ended: &Ended) -> serde_json::Value {
    serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}\n{}", ended.stdout, ended.stderr))
}

/// A stage keeps at most 16 MiB of each stream in its outputs (the log has the
/// rest, within its own bounds): a chatty script cannot fill wfr's memory.
#[test]
fn a_stage_keeps_a_bounded_part_of_its_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    workflow(
        dir.path(),
        "",
        "head -c 20000000 /dev/zero | tr '\\0' a\necho; echo tail",
        "",
    );
    let run = start(&["run", "w", "--output", "json"], dir.path());
    let ended = run.end_within(Duration::from_secs(60));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let ctx = ended_json(&ended);
    let kept = ctx["jobs"]["j"]["stages"]["s"]["outputs"]["stdout"]
        .as_str()
        .expect("stdout");
    assert!(kept.len() < 17 << 20, "{} bytes kept", kept.len());
    assert!(
        kept.ends_with("a stage keeps at most 16 MiB of each stream]"),
        "{}",
        &kept[kept.len() - 200..]
    );
    assert!(
        ended
            .stderr
            .contains("the log has the rest, within its bounds"),
        "{}",
        &ended.stderr[..2000.min(ended.stderr.len())]
    );
}

/// A run whose record cannot be written (the disk filled up while it ran) says
/// so in its exit status and leaves no half-written record; nor does the next
/// run on the full disk.
#[test]
fn a_full_disk_at_the_end_of_a_run_is_an_error_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let _disk = Tmpfs::mount(&runs, "256k");
    write(
        dir.path(),
        "conf/fill.yml",
        &format!(
            "fill:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: fill the disk\n          bash: head -c 1000000 /dev/zero > {}/fill; echo filled\n",
            runs.display()
        ),
    );
    let runs_arg = runs.to_str().expect("utf-8");
    for attempt in 0..2 {
        let out = wfr(&["run", "fill", "--runs", runs_arg], dir.path(), None);
        let err = crate::support::stderr(&out);
        assert_eq!(out.status.code(), Some(5), "attempt {attempt}: {err}");
        assert!(err.contains("cannot write the run record"), "{err}");
        assert!(err.contains("No space left on device"), "{err}");
        // The run history of a runs folder outside `.wfc` is in it (`.wfc.db`).
        let entries: Vec<String> = run_entries(&runs)
            .into_iter()
            .filter(|e| !e.starts_with(".wfc.db"))
            .collect();
        assert_eq!(entries, ["fill"], "attempt {attempt}");
    }
}
