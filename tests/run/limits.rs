//! Bounded inputs: what a run is given (timeouts, params) and what its templates
//! make (matrices) stay within wfc's limits, and what goes beyond them is an error
//! that says so, never a panic, a runaway allocation or a silently ignored value.

use std::fmt::Write as _;

use crate::support::{context, stderr, wfr, write};

const QUICK: &str =
    "quick:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: Hi, echo: hi}\n";

#[test]
fn timeouts_that_are_not_a_sane_duration_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/quick.yml", QUICK);
    for bad in [
        "inf", "1e308", "nan", "NaN", "0", "-1", "2592001", "soon", "0s", "31d", "400d", "5 s",
        "1m1h", "5x",
    ] {
        let out = wfr(
            &["run", "quick", &format!("--timeout={bad}")],
            dir.path(),
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "--timeout {bad}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("timeout"),
            "--timeout {bad}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    for good in ["0.5", "2592000", "90s", "1h30m", "30d"] {
        let out = wfr(
            &["run", "quick", "--timeout", good, "--output", "json"],
            dir.path(),
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "--timeout {good}: {}",
            stderr(&out)
        );
        assert_eq!(context(&out)["status"], "SUCCESS");
    }
}

#[test]
fn a_stage_timeout_beyond_the_bound_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in ["1.0e+20", "0", "-5", ".inf", ".nan"] {
        let flow = format!(
            "t:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {{name: S, id: s, timeout: {bad}, echo: hi}}\n"
        );
        write(dir.path(), "conf/t.yml", &flow);
        let out = wfr(&["run", "t"], dir.path(), None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "timeout: {bad}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("WF106"),
            "timeout: {bad}: {}",
            stderr(&out)
        );
    }
}

const TYPED: &str = "typed:\n  type: Workflow\n  params:\n    d: {type: decimal}\n    n: {type: int, default: 1}\n    f: {type: float, default: 1.0}\n    day: {type: date, default: '2024-01-01'}\n    m: {type: map, default: {}}\n  jobs:\n    j:\n      stages:\n        - {name: Show, echo: '${{ params.d }}'}\n";

#[test]
fn params_that_would_be_huge_are_refused_naming_the_param() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/typed.yml", TYPED);
    let digits = "9".repeat(100_000);
    let deep = format!("{{'a': {}1{}}}", "[".repeat(50_000), "]".repeat(50_000));
    let cases: Vec<(String, &str)> = vec![
        ("d=1e999999999".into(), "`d`"),
        ("d=12345678901234567890123.5".into(), "`d`"),
        (format!("n={digits}"), "`n`"),
        ("f=1e999".into(), "`f`"),
        ("day=0000-01-01".into(), "`day`"),
        (format!("m={deep}"), "`m`"),
    ];
    for (param, name) in &cases {
        let mut args = vec!["run", "typed", "-p", param.as_str()];
        if !param.starts_with("d=") {
            args.extend(["-p", "d=1"]);
        }
        let out = wfr(&args, dir.path(), None);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {err}",
            &param[..20.min(param.len())]
        );
        assert!(err.contains(name), "{err}");
        assert!(
            err.len() < 1000,
            "the message is bounded: {} bytes",
            err.len()
        );
    }
    let out = wfr(
        &[
            "run",
            "typed",
            "-p",
            "d=1234567890123456789012.5",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["params"]["d"],
        "1234567890123456789012.500000"
    );
}

const MATRIX: &str = "grid:\n  type: Workflow\n  params:\n    xs: {type: array}\n  jobs:\n    fan:\n      strategy:\n        max-parallel: 4\n        matrix:\n          a: ${{ params.xs }}\n          b: ${{ params.xs }}\n          c: ${{ params.xs }}\n          d: ${{ params.xs }}\n      stages:\n        - {name: Cell, echo: '${{ matrix.a }}${{ matrix.d }}'}\n";

fn list(n: usize) -> String {
    format!(
        "xs=[{}]",
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    )
}

#[test]
fn a_templated_matrix_beyond_the_bound_fails_its_job_naming_the_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/grid.yml", MATRIX);
    let out = wfr(
        &["run", "grid", "-p", &list(100), "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ctx = context(&out);
    let message = ctx["jobs"]["fan"]["errors"]["message"]
        .as_str()
        .expect("a job error")
        .to_string();
    assert!(
        message.contains("`fan`") && message.contains("100000000") && message.contains("256"),
        "{message}"
    );
    // The log says it too, on the job's line.
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.contains("ERROR fan job ended") && l.contains("100000000")),
        "{}",
        stderr(&out)
    );
    // 4^4 = 256 strategies: the bound itself runs.
    let out = wfr(
        &["run", "grid", "-p", &list(4), "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let strategies = context(&out)["jobs"]["fan"]["strategies"]
        .as_object()
        .expect("strategies")
        .len();
    assert_eq!(strategies, 256);
}

/// A templated matrix whose combinations are all excluded runs one strategy,
/// `EMPTY`, with an empty matrix; with an `include` on top, its job fails
/// (upstream refuses the include), naming the job and upstream's message.
#[test]
fn a_templated_matrix_with_everything_excluded() {
    let flow = |name: &str, include: &str| {
        format!(
            "{name}:\n  type: Workflow\n  params:\n    xs: {{type: array}}\n  jobs:\n    fan:\n      strategy:\n        matrix:\n          os: ${{{{ params.xs }}}}\n        exclude:\n          - {{os: linux}}\n{include}      stages:\n        - {{name: Show, id: show, echo: '${{{{ matrix }}}}'}}\n"
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/m.yml", &flow("m", ""));
    write(
        dir.path(),
        "conf/mi.yml",
        &flow("mi", "        include:\n          - {os: mac}\n"),
    );
    let run = |name: &str| {
        wfr(
            &["run", name, "-p", "xs=[\"linux\"]", "--output", "json"],
            dir.path(),
            None,
        )
    };
    let out = run("m");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fan = &context(&out)["jobs"]["fan"];
    assert_eq!(
        fan["strategies"]["EMPTY"]["matrix"],
        serde_json::json!({}),
        "{fan}"
    );
    assert_eq!(
        fan["strategies"].as_object().map(serde_json::Map::len),
        Some(1)
    );
    let out = run("mi");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let fan = &context(&out)["jobs"]["fan"];
    assert_eq!(fan["status"], "FAILED");
    assert_eq!(fan["strategies"], serde_json::json!({}), "{fan}");
    let message = fan["errors"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`fan`") && message.contains("Include should have the keys"),
        "{message}"
    );
}

/// A workflow whose one stage runs only if `terms` conditions all hold.
fn long_condition(name: &str, terms: usize) -> String {
    let cond = vec!["params.n == 1"; terms].join(" and ");
    format!(
        "{name}:\n  type: Workflow\n  params:\n    n: {{type: int, default: 1}}\n  jobs:\n    j:\n      stages:\n        - name: Gate\n          id: gate\n          if: \"{cond}\"\n          echo: through\n"
    )
}

#[test]
fn a_condition_of_twenty_thousand_terms_checks_compiles_loads_and_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/long.yml", &long_condition("long", 20_000));
    write(dir.path(), "conf/quick.yml", QUICK);
    for target in ["long", "quick"] {
        let out = wfr(&["run", target, "--output", "json"], dir.path(), None);
        assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
        assert_eq!(context(&out)["status"], "SUCCESS");
    }
    let out = wfr(
        &["run", "long", "-p", "n=2", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["gate"]["status"],
        "SKIP"
    );
}

#[test]
fn a_workflow_nested_too_deep_is_refused_and_its_neighbours_still_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nots = "not ".repeat(20_000);
    let parens = format!("{}True{}", "(".repeat(20_000), ")".repeat(20_000));
    let flow = format!(
        "deep:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {{name: A, if: \"{nots}True\"}}\n        - {{name: B, if: \"{parens}\"}}\n"
    );
    write(dir.path(), "conf/deep.yml", &flow);
    write(
        dir.path(),
        "conf/flow.yml",
        &format!(
            "flowdeep:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {{name: A, foreach: {}1{}, stages: [{{name: B}}]}}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    );
    write(dir.path(), "conf/quick.yml", QUICK);
    let out = wfr(&["run", "deep"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("WF402") && stderr(&out).contains("nests more than 32"),
        "{}",
        stderr(&out)
    );
    let out = wfr(&["run", "flowdeep"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("overflow"), "{}", stderr(&out));
    let out = wfr(&["run", "quick", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `levels` foreach stages inside each other, the innermost echoing the item.
fn nested_foreach(name: &str, levels: usize) -> String {
    let mut text = format!("{name}:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n");
    let mut indent = 8;
    for i in 0..levels {
        let pad = " ".repeat(indent);
        let _ = write!(
            text,
            "{pad}- name: level {i}\n{pad}  foreach: [{i}]\n{pad}  stages:\n"
        );
        indent += 4;
    }
    let pad = " ".repeat(indent);
    let _ = writeln!(text, "{pad}- name: leaf\n{pad}  echo: ${{{{ item }}}}");
    text
}

#[test]
fn the_deepest_nesting_the_checker_accepts_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Stages as deep as the YAML limit allows (two YAML levels a stage), and a
    // value as deep as YAML allows, in a foreach's items.
    write(dir.path(), "conf/nested.yml", &nested_foreach("nested", 97));
    let deep_value = format!("{}1{}", "[".repeat(190), "]".repeat(190));
    write(
        dir.path(),
        "conf/value.yml",
        &format!(
            "value:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: Items\n          foreach: [{deep_value}]\n          stages:\n            - {{name: Show, echo: '${{{{ item }}}}'}}\n"
        ),
    );
    for target in ["nested", "value"] {
        let out = wfr(&["run", target, "--output", "json"], dir.path(), None);
        assert_eq!(out.status.code(), Some(0), "{target}: {}", stderr(&out));
        assert_eq!(context(&out)["status"], "SUCCESS", "{target}");
    }
    // One level more than YAML holds is refused by the checker, not by a crash.
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/toodeep.yml",
        &nested_foreach("toodeep", 98),
    );
    let out = wfr(&["run", "conf/toodeep.yml"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("overflow"), "{}", stderr(&out));
}
