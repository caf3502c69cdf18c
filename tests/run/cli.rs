//! The `wfr` command line: targets, params, exit statuses, records, timeouts,
//! cancellation.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{
    assert_version_line, context, installed, run_and_terminate, stderr, stdout, syntax_ok, wfr,
    write,
};

const HELLO: &str = "hello:\n  type: Workflow\n  params:\n    who: {type: str, required: true}\n    times: {type: int, default: 2}\n  jobs:\n    say:\n      stages:\n        - name: Say\n          id: say\n          bash: echo \"hi $W x$T\"\n          env: {W: '${{ params.who }}', T: '${{ params.times }}'}\n";

#[test]
fn runs_by_name_with_defaults_and_writes_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    let out = wfr(
        &["run", "hello", "-p", "who=ann", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["params"]["times"], 2, "the declared default is applied");
    assert_eq!(
        ctx["jobs"]["say"]["stages"]["say"]["outputs"]["stdout"],
        "hi ann x2"
    );
    // The record: in place, complete, and nothing half-written left.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join(".wfc/runs"))
        .expect("runs")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    for file in ["context.json", "params.json", "plan.json", "run.log"] {
        assert!(
            runs[0].join(file).is_file(),
            "{file} missing in {}",
            runs[0].display()
        );
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].join("context.json")).expect("read"))
            .expect("json");
    assert_eq!(saved["status"], "SUCCESS");
    let log = std::fs::read_to_string(runs[0].join("run.log")).expect("log");
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "the log is JSON lines"
    );
    assert!(log.contains("stage ended"));
}

#[test]
fn runs_a_plan_file_and_a_yaml_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "flows/hello.yml", HELLO);
    let out = wfr(
        &["run", "flows/hello.yml", "-p", "who=bo"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("hello "), "{}", stdout(&out));
    let plan = dir.path().join(".wfc/plans/hello.wfp");
    assert!(plan.is_file());
    let out = wfr(
        &[
            "run",
            plan.to_str().expect("utf-8"),
            "-p",
            "who=cy",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(context(&out)["params"]["who"], "cy");
}

#[test]
fn bad_input_exits_two_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    let cases: &[(&[&str], &str)] = &[
        (&["run", "helo"], "did you mean `hello`?"),
        (&["run", "hello"], "param `who` is required"),
        (
            &["run", "hello", "-p", "who=a", "-p", "times=many"],
            "`many` is not an integer",
        ),
        (
            &["run", "hello", "-p", "who=a", "-p", "tmes=3"],
            "did you mean `times`?",
        ),
        (
            &["run", "hello", "-p", "nokey"],
            "write params as `-p key=value`",
        ),
        (&["run", "missing.wfp"], "cannot read plan"),
    ];
    for (args, message) in cases {
        let out = wfr(args, dir.path(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    write(
        dir.path(),
        "conf/broken.yml",
        "broken:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n",
    );
    let out = wfr(&["run", "broken"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("WF101") && stderr(&out).contains("has errors"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn params_file_json_and_yaml() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/hello.yml", HELLO);
    write(dir.path(), "p.json", "{\"who\": \"jay\", \"times\": 7}");
    write(dir.path(), "p.yml", "who: kay\ntimes: 8\n");
    for (file, who, times) in [("p.json", "jay", 7), ("p.yml", "kay", 8)] {
        let out = wfr(
            &["run", "hello", "--params-file", file, "--output", "json"],
            dir.path(),
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let ctx = context(&out);
        assert_eq!(
            (
                ctx["params"]["who"].as_str(),
                ctx["params"]["times"].as_i64()
            ),
            (Some(who), Some(times))
        );
    }
    // `-p` wins over the file.
    let out = wfr(
        &[
            "run",
            "hello",
            "--params-file",
            "p.yml",
            "-p",
            "who=zed",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(context(&out)["params"]["who"], "zed");
}

const SLOW: &str = "slow:\n  type: Workflow\n  jobs:\n    wait:\n      stages:\n        - name: Sleep then mark\n          id: sleep\n          bash: sleep 30; touch finished.marker\n";

fn assert_killed(dir: &Path) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !dir.join("finished.marker").exists(),
        "the script was not killed"
    );
}

#[test]
fn timeout_stops_the_run_and_kills_the_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/slow.yml", SLOW);
    let started = Instant::now();
    let out = wfr(
        &["run", "slow", "--timeout", "1", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let ctx = context(&out);
    assert_eq!(ctx["errors"]["name"], "WorkflowTimeoutError");
    assert_killed(dir.path());
}

#[test]
fn a_signal_cancels_the_run_and_the_record_is_still_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/slow.yml", SLOW);
    let (out, _) = run_and_terminate("slow", dir.path(), Duration::from_millis(1500));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["status"], "CANCEL");
    assert_eq!(ctx["jobs"]["wait"]["stages"]["sleep"]["status"], "CANCEL");
    let runs: Vec<_> = std::fs::read_dir(dir.path().join(".wfc/runs"))
        .expect("runs")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].join("context.json").is_file());
    assert_killed(dir.path());
}

/// A fail-fast failure lets the other strategy's running script go on (upstream's
/// cancel event stops nothing that runs); `--timeout` and a signal still kill it.
#[test]
fn a_fail_fast_stop_lets_running_scripts_finish_but_a_kill_still_kills_them() {
    let flow = "ff:\n  type: Workflow\n  jobs:\n    m:\n      strategy:\n        max-parallel: 2\n        fail-fast: true\n        matrix:\n          n: [1, 2]\n      stages:\n        - name: Work\n          id: work\n          bash: |\n            if [ \"$N\" = 1 ]; then sleep 0.2; exit 1; fi\n            sleep 30; touch finished.marker\n          env: {N: '${{ matrix.n }}'}\n";
    for how in ["--timeout", "SIGTERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "conf/ff.yml", flow);
        let started = Instant::now();
        let out = if how == "--timeout" {
            wfr(
                &["run", "ff", "--timeout", "2", "--output", "json"],
                dir.path(),
                None,
            )
        } else {
            run_and_terminate("ff", dir.path(), Duration::from_secs(2)).0
        };
        let took = started.elapsed();
        // Still running when the kill came, long after the failure; then killed.
        assert!(
            took >= Duration::from_millis(1800) && took < Duration::from_secs(15),
            "{how}: {took:?}\n{}",
            stderr(&out)
        );
        let ctx = context(&out);
        let strategies = ctx["jobs"]["m"]["strategies"]
            .as_object()
            .expect("strategies");
        let statuses: Vec<&str> = strategies
            .values()
            .map(|s| s["stages"]["work"]["status"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(statuses, ["FAILED", "CANCEL"], "{how}: {ctx}");
        assert_killed(dir.path());
    }
}

#[test]
fn stage_timeout_fails_the_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "t:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: Slow, id: slow, timeout: 1, bash: sleep 30}\n";
    write(dir.path(), "conf/t.yml", flow);
    let started = Instant::now();
    let out = wfr(&["run", "t", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["slow"]["errors"]["name"],
        "StageTimeoutError"
    );
}

#[test]
fn raise_error_stops_the_whole_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "r:\n  type: Workflow\n  jobs:\n    a:\n      stages:\n        - {name: Boom, id: boom, raise: boom}\n    b:\n      stages:\n        - {name: Slow, id: slow, bash: sleep 30}\n";
    write(dir.path(), "conf/r.yml", flow);
    let started = Instant::now();
    let out = wfr(
        &["run", "r", "--raise-error", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(15));
    let ctx = context(&out);
    assert!(
        ctx["errors"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'Boom'") && m.contains("boom")),
        "{ctx}"
    );
}

#[test]
fn dynamic_trigger_cycles_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = "ping:\n  type: Workflow\n  params: {to: str}\n  jobs:\n    j:\n      stages:\n        - {name: Go, id: go, trigger: '${{ params.to }}', params: {to: ping}}\npong:\n  type: Workflow\n  params: {to: str}\n  jobs:\n    j:\n      stages:\n        - {name: Go, id: go, trigger: '${{ params.to }}', params: {to: pong}}\n";
    write(dir.path(), "conf/pp.yml", flows);
    let out = wfr(
        &["run", "ping", "-p", "to=pong", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Trigger depth limit reached"),
        "{}",
        &text[..text.len().min(3000)]
    );
}

/// The README's quick start: the bundled example runs clean.
#[test]
fn bundled_example_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/conf/site-check.yml");
    let out = wfr(
        &["run", example.to_str().expect("utf-8"), "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["status"], "SUCCESS");
    let pages = &ctx["jobs"]["measure"]["stages"]["pages"]["outputs"]["foreach"];
    assert_eq!(pages["about"]["stages"]["count"]["outputs"]["stdout"], "9");
    assert_eq!(
        ctx["jobs"]["report"]["strategies"]
            .as_object()
            .map(serde_json::Map::len),
        Some(2)
    );
}

/// Independent jobs run side by side, and a job starts as soon as its needs end,
/// while other jobs still run. (A job that is the only thing to do runs on the
/// thread that drives the run; this checks that the others still go to the pool.)
#[test]
fn jobs_run_side_by_side_and_start_when_their_needs_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "side:\n  type: Workflow\n  jobs:\n    long:\n      stages:\n        - {name: Long, id: long, bash: 'sleep 2; date +%s%N'}\n    short:\n      stages:\n        - {name: Short, id: short, bash: 'sleep 0.2'}\n    after:\n      needs: [short]\n      stages:\n        - {name: After, id: after, bash: 'date +%s%N'}\n    last:\n      needs: [long, after]\n      stages:\n        - {name: Last, id: last, bash: 'date +%s%N'}\n";
    write(dir.path(), "conf/side.yml", flow);
    let out = wfr(&["run", "side", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    let time = |job: &str| -> u128 {
        ctx["jobs"][job]["stages"][job]["outputs"]["stdout"]
            .as_str()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no time from {job}: {ctx}"))
    };
    // `after` ran while `long` still slept, and `last` only once both had ended.
    assert!(time("after") < time("long"), "{ctx}");
    assert!(time("last") >= time("long"), "{ctx}");
}

/// A run whose record cannot be kept does not start.
#[test]
fn a_record_folder_that_cannot_be_made_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/mark.yml",
        "mark:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: Mark, bash: touch ran.txt}\n",
    );
    write(dir.path(), "taken", "a file, not a folder\n");
    let out = wfr(&["run", "mark", "--runs", "taken/runs"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The history in the records folder (taken/runs/.wfc.db) is made first, and cannot be.
    assert!(
        stderr(&out).contains("cannot make the folder of the run history taken/runs/.wfc.db"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("ran.txt").exists());
}

#[test]
fn foreach_keys_are_the_items_text_and_one_text_keeps_one_place() {
    // `1` and `'1'` are different items with the same key: as upstream's context
    // read back from JSON, the key keeps its first place and the last value.
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "mix:\n  type: Workflow\n  params:\n    items: {type: array}\n  jobs:\n    j:\n      stages:\n        - name: Each\n          id: each\n          foreach: ${{ params.items }}\n          stages:\n            - name: Echo\n              id: echo\n              echo: item ${{ item }}\n";
    write(dir.path(), "flows/mix.yml", flow);
    let keys_and_items = |items: &str| {
        let out = wfr(
            &["run", "flows/mix.yml", "-p", items, "--output", "json"],
            dir.path(),
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let foreach = context(&out)["jobs"]["j"]["stages"]["each"]["outputs"]["foreach"].clone();
        let foreach = foreach.as_object().expect("a map").clone();
        foreach
            .into_iter()
            .map(|(k, v)| (k, v["item"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys_and_items(r#"items=[1, "1", 2]"#),
        [
            ("1".to_string(), serde_json::json!("1")),
            ("2".to_string(), serde_json::json!(2))
        ]
    );
    // Numbers only, or text only: every item its own key, in the items' order
    // (read from the record, whose JSON keeps the order).
    let recorded = |items: &str| {
        let out = wfr(&["run", "flows/mix.yml", "-p", items], dir.path(), None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let record = stderr(&out)
            .lines()
            .find_map(|l| l.strip_prefix("wfr: run record: ").map(str::to_string))
            .expect("a record");
        std::fs::read_to_string(dir.path().join(record).join("context.json")).expect("context.json")
    };
    // The record's JSON holds the shared key once.
    let text = recorded(r#"items=[1, "1", 2]"#);
    assert_eq!(text.matches("\"1\":{\"status\"").count(), 1, "{text}");
    let order = |items: &str, keys: &[&str]| {
        let text = recorded(items);
        let at: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":{{\"status\"")).expect(k))
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "{keys:?} out of order in {text}"
        );
    };
    order("items=[3, 1, 2]", &["3", "1", "2"]);
    order(r#"items=["b", "a"]"#, &["b", "a"]);
    // `--output json` keeps the context's order too: params first, an item's
    // status before the item.
    let out = wfr(
        &[
            "run",
            "flows/mix.yml",
            "-p",
            "items=[3]",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    let text = stdout(&out);
    assert!(text.starts_with("{\n  \"params\": {"), "{text}");
    let at = |needle: &str| text.find(needle).expect(needle);
    assert!(at("\"jobs\"") < at("\"status\""), "{text}");
    assert!(at("\"3\": {\n") < at("\"item\": 3"), "{text}");
    assert!(at("\"item\": 3") < at("\"echo\""), "{text}");
}

/// The script `wfr completions SHELL` prints (it must succeed).
fn completions(shell: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = wfr(&["completions", shell], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn completions_of_every_shell_offer_subcommands_and_their_flags_but_not_internal_ones() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for word in ["run", "release", "runs", "logs", "completions", "man"] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
        // fish names long flags as `-l params-file`.
        let flag = if shell == "fish" {
            "-l params-file"
        } else {
            "--params-file"
        };
        assert!(script.contains(flag), "{shell}: no `{flag}`");
        assert!(
            !script.contains("guard"),
            "{shell}: offers the hidden `wfr guard`"
        );
    }
    syntax_ok("bash", &completions("bash"));
    for shell in ["zsh", "fish"] {
        if installed(shell) {
            syntax_ok(shell, &completions(shell));
        }
    }
}

#[test]
fn man_prints_the_page_and_out_writes_one_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = wfr(&["man"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains("\n.TH wfr 1 "), "{page}");
    for sub in ["run", "release", "schedule", "runs", "show", "logs", "stop"] {
        assert!(
            page.contains(&format!("wfr\\-{sub}(1)")),
            "no {sub}: {page}"
        );
    }
    assert!(!page.contains("guard"), "{page}");

    let out = wfr(&["man", "--out", "man1"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let man1 = dir.path().join("man1");
    for file in [
        "wfr.1",
        "wfr-run.1",
        "wfr-release.1",
        "wfr-logs.1",
        "wfr-man.1",
    ] {
        let text =
            std::fs::read_to_string(man1.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains("\n.TH wfr"), "{file}: {text}");
    }
    assert!(
        !man1.join("wfr-guard.1").exists(),
        "a page of the hidden `wfr guard`"
    );
    assert!(!man1.join("wfr-help.1").exists());
}

#[test]
fn version_says_the_commit_and_the_plan_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [&["--version"][..], &["-V"], &["run", "--version"]] {
        let out = wfr(args, dir.path(), None);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let name = if args[0] == "run" { "wfr-run" } else { "wfr" };
        assert_version_line(&stdout(&out), name, wfc_plan::FORMAT_VERSION);
    }
}
