//! Nested concurrency: stages in stages, runs in runs, all on one pool. A
//! workflow the checker accepts runs, however its fan-outs nest; no thread's stack
//! overflows (each used to, with `thread 'wfr-worker' has overflowed its stack`).

use std::fmt::Write as _;

use crate::support::{context, stderr, wfr, write};

/// `levels` foreach stages inside each other, each over `items` items run
/// `concurrent` at a time, around an Empty stage.
fn nested_foreach(levels: usize, items: usize, concurrent: usize) -> String {
    let list: Vec<String> = (0..items).map(|i| i.to_string()).collect();
    let mut text = String::from("fe:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n");
    let mut pad = " ".repeat(8);
    for level in 0..levels {
        let _ = write!(
            text,
            "{pad}- name: level {level}\n{pad}  id: level{level}\n{pad}  foreach: [{}]\n{pad}  concurrent: {concurrent}\n{pad}  stages:\n",
            list.join(", ")
        );
        pad.push_str("    ");
    }
    let _ = writeln!(text, "{pad}- name: leaf");
    text
}

/// `levels` parallel stages inside each other, each of two branches that hold
/// the next level, run two at a time.
fn nested_parallel(levels: usize) -> String {
    fn stage(level: usize, levels: usize, pad: &str, out: &mut String) {
        if level == levels {
            let _ = writeln!(out, "{pad}- name: leaf");
            return;
        }
        let _ = write!(
            out,
            "{pad}- name: level {level}\n{pad}  max-workers: 2\n{pad}  parallel:\n"
        );
        for branch in ["a", "b"] {
            let _ = writeln!(out, "{pad}    {branch}:");
            stage(level + 1, levels, &format!("{pad}      "), out);
        }
    }
    let mut text = String::from("par:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n");
    stage(0, levels, &" ".repeat(8), &mut text);
    text
}

#[test]
fn five_levels_of_foreach_nine_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/fe.yml", &nested_foreach(5, 9, 9));
    let out = wfr(&["run", "fe", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ctx = context(&out);
    assert_eq!(ctx["status"], "SUCCESS");
    // Every level ran all its items: the innermost foreach of the last item of
    // each level above it.
    let mut stage = &ctx["jobs"]["j"]["stages"]["level0"];
    for level in 1..5 {
        assert_eq!(stage["outputs"]["items"].as_array().map(Vec::len), Some(9));
        stage = &stage["outputs"]["foreach"]["8"]["stages"][format!("level{level}")];
    }
    assert_eq!(stage["status"], "SUCCESS", "{stage}");
}

#[test]
fn twelve_levels_of_parallel() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/par.yml", &nested_parallel(12));
    let out = wfr(&["run", "par", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(context(&out)["status"], "SUCCESS");
}

#[test]
fn eleven_chained_triggers_each_fanning_out_two_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    for level in 0..=11 {
        let body = if level == 11 {
            "        - name: leaf\n".to_string()
        } else {
            let next = level + 1;
            format!(
                "        - name: fan\n          max-workers: 2\n          parallel:\n            a:\n              - {{name: call a, trigger: t{next}}}\n            b:\n              - {{name: call b, trigger: t{next}}}\n"
            )
        };
        write(
            dir.path(),
            &format!("conf/t{level}.yml"),
            &format!("t{level}:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n{body}"),
        );
    }
    let out = wfr(&["run", "t0", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(context(&out)["status"], "SUCCESS");
}
