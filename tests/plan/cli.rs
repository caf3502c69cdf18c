//! `wfc compile` as a cache, `wfc plan show` and `wfc graph`.

use std::path::Path;

use crate::support::{stderr, stdout, tests_dir, wfc, write};

const PARENT: &str = "parent:\n  type: Workflow\n  params: {day: str}\n  jobs:\n    j:\n      stages:\n        - {name: run child, id: child, trigger: child, params: {day: '${{ params.day }}'}}\n";
const CHILD: &str = "child:\n  type: Workflow\n  params: {day: str}\n  jobs:\n    j:\n      stages:\n        - {name: say, id: say, echo: '${{ params.day }}'}\n";
const OTHER: &str =
    "other:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: hi, echo: hi}\n";

fn compile(dir: &Path) -> (Option<i32>, String) {
    let out = wfc(&["compile", "conf"], dir);
    (out.status.code(), stderr(&out))
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("plan exists")
}

#[test]
fn compile_is_a_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/parent.yml", PARENT);
    write(d, "conf/child.yml", CHILD);
    write(d, "conf/other.yml", OTHER);
    let (code, said) = compile(d);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("3 plans written, 0 up to date"), "{said}");
    for name in ["parent", "child", "other"] {
        assert!(d.join(format!(".wfc/plans/{name}.wfp")).is_file());
    }

    let (_, said) = compile(d);
    assert!(said.contains("0 plans written, 3 up to date"), "{said}");

    // Touching a file changes nothing.
    let plan = d.join(".wfc/plans/other.wfp");
    let before = modified(&plan);
    let text = std::fs::read_to_string(d.join("conf/other.yml")).expect("read");
    std::fs::write(d.join("conf/other.yml"), text).expect("touch");
    let (_, said) = compile(d);
    assert!(said.contains("0 plans written, 3 up to date"), "{said}");
    assert_eq!(modified(&plan), before);

    // Editing a workflow recompiles it, and not the unrelated ones.
    write(
        d,
        "conf/other.yml",
        &OTHER.replace("echo: hi", "echo: hello"),
    );
    let (_, said) = compile(d);
    assert!(said.contains("1 plan written, 2 up to date"), "{said}");

    // Editing a workflow that is triggered recompiles the one that triggers it.
    write(
        d,
        "conf/child.yml",
        &CHILD.replace("name: say", "name: tell"),
    );
    let (_, said) = compile(d);
    assert!(said.contains("2 plans written, 1 up to date"), "{said}");

    // A workflow with errors gets no plan, and its old plan is removed.
    write(d, "conf/other.yml", &OTHER.replace("echo: hi", "ecoh: hi"));
    let out = wfc(&["compile", "conf"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("WF101"),
        "the same diagnostics as check: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("1 workflow not compiled because of errors (other)"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join(".wfc/plans/other.wfp").exists());
    assert!(d.join(".wfc/plans/parent.wfp").exists());
}

#[test]
fn a_plan_from_another_compiler_build_is_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "conf/other.yml", OTHER);
    compile(d);
    let path = d.join(".wfc/plans/other.wfp");
    let (mut header, plan) = wfc_compiler::plan::read(&path).expect("plan");
    header.compiler = "0.0.1+old".into();
    wfc_compiler::plan::write(&path, &header, &plan).expect("rewrite");
    let (_, said) = compile(d);
    assert!(said.contains("1 plan written, 0 up to date"), "{said}");
}

#[test]
fn compile_writes_to_the_chosen_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/other.yml", OTHER);
    let out = wfc(&["compile", "conf", "-o", "plans"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("plans/other.wfp").is_file());
}

/// `plan show` output with the parts that change with every build blanked.
fn stable_show(json: &str) -> String {
    // The source file's path depends on where the repository is checked out.
    let json = json.replace(tests_dir().to_str().expect("utf-8"), "<tests>");
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("plan show prints JSON");
    for key in ["compiler", "source_hash", "params_hash"] {
        value["header"][key] = serde_json::Value::String(format!("<{key}>"));
    }
    serde_json::to_string_pretty(&value).expect("json")
}

#[test]
fn plan_show_and_graph_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = tests_dir().join("fixtures/ok");
    let conf = conf.to_str().expect("utf-8");
    let out = wfc(&["compile", conf], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let show = wfc(&["plan", "show", ".wfc/plans/notify-team.wfp"], dir.path());
    assert_eq!(show.status.code(), Some(0));
    let settings = || {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path("../../snapshots");
        s.set_prepend_module_to_snapshot(false);
        s.set_omit_expression(true);
        s
    };
    settings()
        .bind(|| insta::assert_snapshot!("plan_show__notify_team", stable_show(&stdout(&show))));
    for (format, ext) in [("dot", "dot"), ("mermaid", "mermaid")] {
        let graph = wfc(
            &["graph", "sales-pipeline", conf, "--format", format],
            dir.path(),
        );
        assert_eq!(graph.status.code(), Some(0), "{}", stderr(&graph));
        settings().bind(|| {
            insta::assert_snapshot!(format!("graph__sales_pipeline_{ext}"), stdout(&graph));
        });
    }
}

#[test]
fn plan_show_refuses_damaged_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "bad.wfp", "WFCPLAN\0garbage");
    let out = wfc(&["plan", "show", "bad.wfp"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("recompile with `wfc compile`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn graph_of_unknown_or_broken_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/other.yml", OTHER);
    let out = wfc(&["graph", "othr", "conf"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `other`?"),
        "{}",
        stderr(&out)
    );
    write(
        dir.path(),
        "conf/other.yml",
        &OTHER.replace("echo: hi", "ecoh: hi"),
    );
    let out = wfc(&["graph", "other", "conf"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("WF101"));
}
