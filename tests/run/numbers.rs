//! Integers beyond 64 bits, as Python's: params take them, templates, filters,
//! conditions, loops and child runs keep them exact, and `--output json` writes
//! them as numbers with all their digits (the reference engine's contexts,
//! checked with its oracle).

use crate::support::{context, stderr, stdout, wfr, write};

const BIG: &str = "100000000000000000000";
const NEGATIVE: &str = "-1000000000000000000000000000000";

const FLOW: &str = r#"big:
  type: Workflow
  params:
    n: int
    neg: int
    xs: array
    m: map
    digits: str
  jobs:
    j:
      stages:
        - name: child
          id: child
          trigger: big-child
          params:
            keep: ${{ params.n }}
            text: "n=${{ params.n }}"
            s: ${{ params.n | str }}
            i: ${{ params.neg | abs }}
            f: ${{ params.digits | int }}
            lst: ${{ params.xs }}
            mp: ${{ params.m }}
            first: ${{ params.xs | getindex(0) }}
        - {name: gt, id: gt, if: "${{ params.n }} > 10000000000000000000", echo: "yes"}
        - {name: eq, id: eq, if: "${{ params.n }} == 100000000000000000000", echo: "yes"}
        - {name: ne, id: ne, if: "${{ params.n }} == 100000000000000000001", echo: "yes"}
        - {name: lt, id: lt, if: "${{ params.neg }} < -9223372036854775808", echo: "yes"}
        - {name: arith, id: arith, if: "${{ params.n }} * 3 + 1 == 300000000000000000001", echo: "yes"}
        - {name: wrap, id: wrap, if: "9223372036854775807 + 1 > 9223372036854775807", echo: "yes"}
        - name: floor
          id: floor
          if: "${{ params.neg }} // 7 == -142857142857142857142857142858 and ${{ params.neg }} % 7 == 6"
          echo: "yes"
        - {name: float, id: float, if: "${{ params.n }} + 1 > 1e20", echo: "yes"}
        - {name: in, id: in, if: "${{ params.n }} in ${{ params.xs }}", echo: "yes"}
        - name: each
          id: each
          foreach: ${{ params.xs }}
          stages:
            - {name: item, echo: "${{ item }}"}
        - name: each-text
          id: each-text
          foreach: '[100000000000000000000, -1000000000000000000000000000000, 5]'
          stages:
            - {name: item, echo: "${{ item }}"}

big-child:
  type: Workflow
  params:
    keep: int
    text: str
    s: str
    i: int
    f: int
    lst: array
    mp: map
    first: int
  jobs:
    j:
      stages:
        - {name: noop, echo: hi}
"#;

/// The run of `big` with 10**20, -10**30, a list and a map holding 10**20, and
/// the digits of a big integer as text.
fn run_big(dir: &std::path::Path) -> std::process::Output {
    write(dir, "conf/big.yml", FLOW);
    wfr(
        &[
            "run",
            "big",
            "-p",
            &format!("n={BIG}"),
            "-p",
            &format!("neg={NEGATIVE}"),
            "-p",
            &format!("xs=[{BIG}, 1]"),
            "-p",
            &format!("m={{\"b\": {BIG}, \"a\": 1}}"),
            "-p",
            "digits=123456789012345678901234567890",
            "--output",
            "json",
        ],
        dir,
        None,
    )
}

#[test]
fn big_integers_stay_exact_integers_through_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_big(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // Numbers with all their digits (serde_json would read them as floats: the
    // text is checked, without its spaces).
    let compact: String = text.split_whitespace().collect();
    for expected in [
        format!("\"params\":{{\"n\":{BIG},\"neg\":{NEGATIVE},"),
        format!("\"keep\":{BIG},"),
        format!("\"text\":\"n={BIG}\","),
        format!("\"s\":\"{BIG}\","),
        format!("\"i\":{},", &NEGATIVE[1..]),
        "\"f\":123456789012345678901234567890,".to_string(),
        format!("\"lst\":[{BIG},1],"),
        // A map param keeps its keys' order.
        format!("\"mp\":{{\"b\":{BIG},\"a\":1}},"),
        format!("\"first\":{BIG}}}"),
        // Loops key their items by their digits.
        format!("\"foreach\":{{\"{BIG}\":{{\"status\":\"SUCCESS\",\"item\":{BIG},"),
        format!("\"{NEGATIVE}\":{{\"status\":\"SUCCESS\",\"item\":{NEGATIVE},"),
    ] {
        assert!(compact.contains(&expected), "no `{expected}` in\n{text}");
    }
    assert!(!text.contains("e+20") && !text.contains("1e20"), "{text}");
    let context = context(&out);
    let stages = &context["jobs"]["j"]["stages"];
    for (id, status) in [
        ("gt", "SUCCESS"),
        ("eq", "SUCCESS"),
        ("ne", "SKIP"),
        ("lt", "SUCCESS"),
        ("arith", "SUCCESS"),
        ("wrap", "SUCCESS"),
        ("floor", "SUCCESS"),
        ("float", "SUCCESS"),
        ("in", "SUCCESS"),
        ("each", "SUCCESS"),
        ("each-text", "SUCCESS"),
    ] {
        assert_eq!(stages[id]["status"], status, "{id}: {}", stages[id]);
    }
}

#[test]
fn big_integers_in_params_files_and_the_limit_of_digits() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/p.yml",
        "p:\n  type: Workflow\n  params:\n    n: int\n  jobs:\n    j:\n      stages:\n        - {name: say, echo: \"${{ params.n }}\"}\n",
    );
    write(dir.path(), "params.json", &format!("{{\"n\": {NEGATIVE}}}"));
    let out = wfr(
        &[
            "run",
            "p",
            "--params-file",
            "params.json",
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let compact: String = stdout(&out).split_whitespace().collect();
    assert!(
        compact.contains(&format!("\"params\":{{\"n\":{NEGATIVE}}}")),
        "{}",
        stdout(&out)
    );
    // Python reads at most 4300 digits into an int; so does wfr.
    let long = "9".repeat(4301);
    let out = wfr(&["run", "p", "-p", &format!("n={long}")], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let error = stderr(&out);
    assert!(
        error.contains("param `n`")
            && error.contains("4301 digits is beyond Python's limit of 4300"),
        "{error}"
    );
    assert!(error.len() < 400, "a long value is shown cut: {error}");
    let out = wfr(
        &["run", "p", "-p", &format!("n={}", &long[1..])],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn big_integers_written_in_the_workflow_are_integers() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/yaml.yml",
        r"big-yaml:
  type: Workflow
  params:
    n:
      type: int
      default: 100000000000000000000
    c:
      type: choice
      options: [100000000000000000000, 1]
  jobs:
    j:
      strategy:
        matrix:
          x: [100000000000000000000, -100000000000000000000, 1]
        include:
          - x: 0x1FFFFFFFFFFFFFFFFFFFF
      stages:
        - name: child
          id: child
          trigger: big-yaml-child
          params:
            v: 100000000000000000000
            m: ${{ matrix.x }}
            d: ${{ params.n }}
            c: ${{ params.c }}
            l: [100000000000000000000, -9223372036854775808, 9223372036854775808]
        - name: case
          id: case
          case: ${{ matrix.x }}
          match:
            - case: 100000000000000000000
              stages:
                - {name: big, echo: big}
            - case: _
              stages:
                - {name: other, echo: other}
        - name: each
          id: each
          foreach: [100000000000000000000, 5]
          stages:
            - {name: item, echo: '${{ item }}'}
big-yaml-child:
  type: Workflow
  params:
    v: int
    m: int
    d: int
    c: str
    l: array
  jobs:
    j:
      stages:
        - {name: noop, echo: hi}
",
    );
    let out = wfr(
        &[
            "run",
            "big-yaml",
            "-p",
            &format!("c={BIG}"),
            "--output",
            "json",
        ],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let compact: String = text.split_whitespace().collect();
    // The strategies have upstream's ids (the hash of `str()` of the matrix).
    for (id, x) in [
        ("3704799956", BIG.to_string()),
        ("5863798732", format!("-{BIG}")),
        ("3941390096", "1".to_string()),
        ("8261213125", "2417851639229258349412351".to_string()),
    ] {
        let expected = format!(
            "\"{id}\":{{\"status\":\"SUCCESS\",\"matrix\":{{\"x\":{x}}},\"stages\":{{\"child\":{{\"outputs\":{{\"params\":{{\"v\":{BIG},\"m\":{x},\"d\":{BIG},\"c\":\"{BIG}\",\"l\":[{BIG},-9223372036854775808,9223372036854775808]}},"
        );
        assert!(compact.contains(&expected), "no `{expected}` in\n{text}");
    }
    assert!(
        compact.contains(&format!("\"case\":{{\"outputs\":{{\"case\":{BIG},")),
        "{text}"
    );
    assert!(
        compact.contains(&format!(
            "\"items\":[{BIG},5],\"foreach\":{{\"{BIG}\":{{\"status\":\"SUCCESS\",\"item\":{BIG},"
        )),
        "{text}"
    );
}
