//! Py stages on the embedded interpreter: printed output and tracebacks in the
//! log, concurrent stages keeping their output apart, timeouts and cancellation.

use std::time::{Duration, Instant};

use crate::support::{json_lines, run_and_terminate, stderr, wfr, write};

#[test]
fn printed_output_and_tracebacks_go_to_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Talk\n          run: |\n            print('to stdout')\n            import sys\n            print('to stderr', file=sys.stderr)\n        - name: Break\n          run: |\n            def inner():\n                raise KeyError('missing')\n            inner()\n";
    write(dir.path(), "conf/p.yml", flow);
    let out = wfr(
        &["run", "p", "--output", "json", "--log-format", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        out.stdout.starts_with(b"{"),
        "printed text never reaches stdout"
    );
    let lines = json_lines(&stderr(&out));
    let said = |stream: &str, text: &str| {
        lines
            .iter()
            .any(|l| l["stream"] == stream && l["message"] == text)
    };
    assert!(said("stdout", "to stdout"), "{lines:#?}");
    assert!(said("stderr", "to stderr"), "{lines:#?}");
    let traceback = lines
        .iter()
        .find(|l| {
            l["level"] == "ERROR"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Traceback"))
        })
        .expect("a traceback line");
    let text = traceback["message"].as_str().expect("text");
    assert!(text.contains("in inner"), "{text}");
    assert!(text.contains("KeyError: 'missing'"), "{text}");
    assert!(
        !text.contains("wfc_support"),
        "the traceback starts in the stage's code: {text}"
    );
}

#[test]
fn concurrent_stages_keep_their_output_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let branch = |name: &str| {
        format!(
            "            {name}:\n              - name: Print {name}\n                run: |\n                  import time\n                  for i in range(100):\n                      print('{name}', i)\n                      if i % 10 == 0:\n                          time.sleep(0.001)\n"
        )
    };
    let flow = format!(
        "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Both\n          max-workers: 2\n          parallel:\n{}{}",
        branch("left"),
        branch("right")
    );
    write(dir.path(), "conf/p.yml", &flow);
    let out = wfr(&["run", "p", "--log-format", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    let printed: Vec<_> = lines.iter().filter(|l| l["stream"] == "stdout").collect();
    assert_eq!(printed.len(), 200);
    for line in printed {
        let at = line["at"].as_str().expect("at");
        let message = line["message"].as_str().expect("message");
        let branch = at.rsplit('/').next().expect("branch");
        assert!(
            message.starts_with(branch),
            "a line of {at} printed by another stage: {message}"
        );
    }
}

#[test]
fn timeouts_stop_busy_and_sleeping_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "p:\n  type: Workflow\n  jobs:\n    busy:\n      stages:\n        - name: Spin\n          id: spin\n          timeout: 1\n          run: |\n            while True:\n                pass\n    sleepy:\n      stages:\n        - name: Sleep\n          id: sleep\n          timeout: 1\n          run: |\n            import time\n            time.sleep(60)\n";
    write(dir.path(), "conf/p.yml", flow);
    let started = Instant::now();
    let out = wfr(&["run", "p", "--output", "json"], dir.path(), None);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stages were not stopped"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for (job, stage) in [("busy", "spin"), ("sleepy", "sleep")] {
        assert_eq!(
            ctx["jobs"][job]["stages"][stage]["errors"]["name"], "StageTimeoutError",
            "{ctx:#}"
        );
    }
}

#[test]
fn a_signal_cancels_a_sleeping_python_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Sleep\n          id: sleep\n          run: |\n            import time\n            time.sleep(60)\n";
    write(dir.path(), "conf/p.yml", flow);
    let (out, stopping) = run_and_terminate("p", dir.path(), Duration::from_millis(1500));
    assert!(stopping < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ctx["jobs"]["j"]["stages"]["sleep"]["status"], "CANCEL");
}

/// The binary finds its interpreter and standard library with no environment at all.
#[test]
fn runs_python_with_an_empty_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Where\n          id: where\n          run: |\n            import json, sys\n            version = '%d.%d' % sys.version_info[:2]\n            encoded = json.dumps({'a': 1})\n";
    write(dir.path(), "conf/p.yml", flow);
    let out = std::process::Command::new(crate::WFR)
        .args(["run", "p", "--output", "json"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let outputs = &ctx["jobs"]["j"]["stages"]["where"]["outputs"];
    assert_eq!(outputs["encoded"], r#"{"a": 1}"#);
    assert!(
        outputs["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
}

/// A Python value nested deeper than wfr keeps fails its stage with a message;
/// it does not exhaust a stack (and end wfr).
#[test]
fn a_value_nested_too_deep_fails_its_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = "p:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Deep\n          id: deep\n          run: |\n            x = []\n            for _ in range(1000000):\n                x = [x]\n        - name: Fine\n          id: fine\n          run: |\n            y = [[[1]]]\n";
    write(dir.path(), "conf/p.yml", flow);
    let out = wfr(&["run", "p", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let message = ctx["jobs"]["j"]["stages"]["deep"]["errors"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("nests more than 128 levels"), "{ctx:#}");
}

#[test]
fn python_ints_of_any_size_stay_integers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = r#"p:
  type: Workflow
  params:
    n: int
  jobs:
    j:
      stages:
        - id: s
          name: Make
          run: |
            big = 10 ** 20
            negative = -10 ** 30
            items = [big, 1]
            kind = type(n).__name__
            twice = n * 2
          vars:
            n: ${{ params.n }}
        - id: t
          name: Take
          run: |
            kind = type(v).__name__
            more = v + 1
            alone = type(w).__name__
          vars:
            v: ${{ stages.s.outputs.big }}
            w: ${{ stages.s.outputs.items }}
        - id: e
          name: Say
          echo: "big=${{ stages.s.outputs.big }}"
        - id: k
          name: Compare
          if: "${{ stages.s.outputs.big }} > 10000000000000000000"
          echo: "bigger"
"#;
    write(dir.path(), "conf/p.yml", flow);
    let out = wfr(
        &[
            "run",
            "p",
            "-p",
            "n=-100000000000000000000",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // Numbers with all their digits (serde_json would read them as floats: the
    // text is checked, without its spaces).
    let compact: String = text.split_whitespace().collect();
    for expected in [
        "\"big\":100000000000000000000,",
        "\"negative\":-1000000000000000000000000000000,",
        "\"items\":[100000000000000000000,1],",
        "\"kind\":\"int\",",
        "\"twice\":-200000000000000000000}",
        "\"more\":100000000000000000001,",
        "\"alone\":\"list\"",
    ] {
        assert!(compact.contains(expected), "no `{expected}` in\n{text}");
    }
    let context: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        context["jobs"]["j"]["stages"]["k"]["status"], "SUCCESS",
        "{context}"
    );
}

/// A tuple a Py stage makes stays a tuple: `(1, 2)` in text, a tuple in a later
/// stage's `vars`, never equal to a list; a JSON list in the context.
#[test]
fn python_tuples_stay_tuples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = r#"p:
  type: Workflow
  jobs:
    j:
      stages:
        - id: s6
          name: Make
          run: "o7 = (1, 2)\none = (1,)\nempty = ()"
        - id: use
          name: Use
          vars:
            v: "x ${{ stages.s6.outputs.o7 | str }}"
            one: "${{ stages.s6.outputs.one }} ${{ stages.s6.outputs.empty }}"
            t: "${{ stages.s6.outputs.o7 }}"
          run: "o = v\nshown = one\nkind = type(t).__name__"
        - id: eq
          name: Equal to a list
          if: "${{ stages.s6.outputs.o7 }} == [1, 2]"
          echo: "equal"
"#;
    write(dir.path(), "conf/p.yml", flow);
    let out = wfr(&["run", "p", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let stages = &ctx["jobs"]["j"]["stages"];
    assert_eq!(stages["s6"]["outputs"]["o7"], serde_json::json!([1, 2]));
    assert_eq!(
        stages["use"]["outputs"],
        serde_json::json!({"o": "x (1, 2)", "shown": "(1,) ()", "kind": "tuple"})
    );
    assert_eq!(stages["eq"]["status"], "SKIP", "{ctx:#}");
}
