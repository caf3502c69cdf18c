//! Call stages: functions marked with `@tag` in a `tasks` package beside the
//! workflow folder, found with no configuration; argument binding; errors.

use crate::support::{context, stderr, wfr, wfr_with, write};

const TASKS: &str = r#"
import asyncio
from ddeutil.workflow import tag
from wfc import tag as wfc_tag


@tag("v1", alias="scale")
def scale(value: float, factor: int = 2) -> dict:
    return {"scaled": value * factor, "kind": type(value).__name__}


@wfc_tag("v1")
def keyword(_from: str, to: str) -> dict:
    return {"route": f"{_from}->{to}"}


@tag("v1", alias="who-runs")
def who_runs(result, extras) -> dict:
    return {"has_run_id": bool(result.run_id), "extras": extras}


@tag("v1", alias="rest")
def rest(first, **kwargs) -> dict:
    return {"first": first, "others": sorted(kwargs)}


@tag("v1", alias="kinds")
def kinds(a: list, b: "list[int]", c: object, d: tuple) -> dict:
    return {k: type(v).__name__ for k, v in (("a", a), ("b", b), ("c", c), ("d", d))}


@tag("v1", alias="later")
async def later(seconds: float) -> dict:
    await asyncio.sleep(seconds)
    return {"waited": seconds}
"#;

fn flow(stages: &str) -> String {
    format!("c:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n{stages}")
}

#[test]
fn tasks_beside_the_workflow_folder_need_no_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tasks/__init__.py", TASKS);
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            "        - {name: Scale, id: scale, uses: tasks/scale@v1, with: {value: 3}}\n        - {name: Text, id: text, uses: tasks/scale@v1, with: {value: '1.5', factor: '4'}}\n        - {name: Keyword, id: keyword, uses: tasks/keyword@v1, with: {from: a, to: b}}\n        - {name: Who, id: who, uses: tasks/who-runs@v1}\n        - {name: Rest, id: rest, uses: tasks/rest@v1, with: {first: 1, b: 2, a: 3}}\n        - {name: Later, id: later, uses: tasks/later@v1, with: {seconds: 0.01}}\n",
        ),
    );
    let out = wfr(&["run", "c", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stages = &context(&out)["jobs"]["j"]["stages"];
    assert_eq!(stages["scale"]["outputs"]["scaled"], 6.0);
    assert_eq!(
        stages["scale"]["outputs"]["kind"], "float",
        "an int is a float when asked"
    );
    assert_eq!(
        stages["text"]["outputs"]["scaled"], 6.0,
        "text converted by the hints"
    );
    assert_eq!(
        stages["keyword"]["outputs"]["route"], "a->b",
        "`from` feeds `_from`"
    );
    assert_eq!(stages["who"]["outputs"]["has_run_id"], true);
    assert_eq!(stages["who"]["outputs"]["extras"], serde_json::json!({}));
    assert_eq!(
        stages["rest"]["outputs"]["others"],
        serde_json::json!(["a", "b", "extras", "result"]),
        "**kwargs gets the rest, `result` and `extras` too (as upstream)"
    );
    assert_eq!(
        stages["later"]["outputs"]["waited"], 0.01,
        "async functions run"
    );
}

#[test]
fn registry_roots_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "pkg/__init__.py", "");
    write(dir.path(), "pkg/tasks.py", TASKS);
    write(
        dir.path(),
        "conf/c.yml",
        &flow("        - {name: Scale, id: scale, uses: tasks/scale@v1, with: {value: 1}}\n"),
    );
    for var in ["WFC_REGISTRY_CALLER", "WORKFLOW_CORE_REGISTRY_CALLER"] {
        let out = wfr_with(
            &["run", "c", "--output", "json"],
            dir.path(),
            None,
            &[(var, "missing_root, pkg")],
        );
        assert_eq!(out.status.code(), Some(0), "{var}: {}", stderr(&out));
        assert_eq!(
            context(&out)["jobs"]["j"]["stages"]["scale"]["outputs"]["scaled"],
            2.0
        );
    }
}

#[test]
fn binding_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tasks/__init__.py", TASKS);
    write(dir.path(), "tasks/broken.py", "import no_such_dependency\n");
    let cases = [
        (
            "{name: S, id: s, uses: tasks/scale@v1, with: {value: 1, speed: 2}}",
            "TypeError",
            "'scale@v1' has no argument 'speed'; it takes value, factor.",
        ),
        (
            "{name: S, id: s, uses: tasks/scale@v1, with: {factor: 2}}",
            "ValueError",
            "Necessary params, (value, ), does not set to args. It already set ['factor'].",
        ),
        (
            "{name: S, id: s, uses: tasks/scale@v1, with: {value: 'lots'}}",
            "ValueError",
            "Validate argument from the caller function raise invalid type: 'lots' is not a valid float.",
        ),
        (
            "{name: S, id: s, uses: tasks.broken/anything@v1}",
            "ModuleNotFoundError",
            "No module named 'no_such_dependency'",
        ),
    ];
    for (stage, name, message) in cases {
        write(
            dir.path(),
            "conf/c.yml",
            &flow(&format!("        - {stage}\n")),
        );
        let out = wfr(&["run", "c", "--output", "json"], dir.path(), None);
        assert_eq!(out.status.code(), Some(1), "{stage}: {}", stderr(&out));
        let errors = &context(&out)["jobs"]["j"]["stages"]["s"]["errors"];
        assert_eq!(errors["name"], name, "{stage}: {errors}");
        assert_eq!(errors["message"], message, "{stage}");
    }
}

#[test]
fn filters_registered_in_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "tasks/__init__.py",
        "from ddeutil.workflow import custom_filter\n\n\n@custom_filter('shout')\ndef shout(value, suffix='!'):\n    return str(value).upper() + suffix\n\n\n@custom_filter('explode')\ndef explode(value):\n    raise RuntimeError('boom')\n",
    );
    write(
        dir.path(),
        "conf/c.yml",
        "c:\n  type: Workflow\n  params:\n    name: str\n  jobs:\n    j:\n      stages:\n        - {name: S, id: s, run: \"a = '${{ params.name | shout }}'\\nb = '${{ params.name | shout('?') }}'\"}\n",
    );
    let out = wfr(
        &["run", "c", "-p", "name=ann", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outputs = &context(&out)["jobs"]["j"]["stages"]["s"]["outputs"];
    assert_eq!(outputs["a"], "ANN!");
    assert_eq!(outputs["b"], "ANN?");

    write(
        dir.path(),
        "conf/c.yml",
        "c:\n  type: Workflow\n  params:\n    name: str\n  jobs:\n    j:\n      stages:\n        - {name: S, id: s, echo: '${{ params.name | explode }}'}\n",
    );
    let out = wfr(
        &["run", "c", "-p", "name=ann", "--output", "json"],
        dir.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let errors = &context(&out)["jobs"]["j"]["stages"]["s"]["errors"];
    assert_eq!(errors["name"], "UtilError");
    assert_eq!(errors["message"], "filter `explode`: RuntimeError: boom");

    write(
        dir.path(),
        "conf/c.yml",
        "c:\n  type: Workflow\n  params:\n    name: str\n  jobs:\n    j:\n      stages:\n        - {name: S, id: s, echo: '${{ params.name | whisper }}'}\n",
    );
    let out = wfr(&["run", "c", "-p", "name=ann"], dir.path(), None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("WF409"), "{}", stderr(&out));
}

/// Tuples reach functions as tuples, unless a hint asks for a list (and a list
/// becomes a tuple where a hint asks for one), as upstream's argument model does.
#[test]
fn tuples_convert_as_the_hints_ask() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "tasks/__init__.py", TASKS);
    write(
        dir.path(),
        "conf/c.yml",
        &flow(
            r#"        - {name: Make, id: make, run: "t = (1, 2)\nl = [1, 2]"}
        - name: Kinds
          id: kinds
          uses: tasks/kinds@v1
          with:
            a: "${{ stages.make.outputs.t }}"
            b: "${{ stages.make.outputs.t }}"
            c: "${{ stages.make.outputs.t }}"
            d: "${{ stages.make.outputs.l }}"
"#,
        ),
    );
    let out = wfr(&["run", "c", "--output", "json"], dir.path(), None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        context(&out)["jobs"]["j"]["stages"]["kinds"]["outputs"],
        serde_json::json!({"a": "list", "b": "list", "c": "tuple", "d": "tuple"})
    );
}
