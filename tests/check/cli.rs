//! The `wfc` binary: exit codes, output formats, default paths.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{stdout, tests_dir, write};

fn wfc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env("NO_COLOR", "1")
        .output()
        .expect("run wfc")
}

const CLEAN: &str =
    "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n";
const BROKEN: &str =
    "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, ecoh: hi}\n";
const WARNING: &str =
    "wf-warn:\n  type: Workflow\n  jobs:\n    j:\n      if: true\n      stages: []\n";

#[test]
fn clean_input_exits_zero_with_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", CLEAN);
    let out = wfc(&["check", "a.yml"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn findings_exit_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", BROKEN);
    let out = wfc(&["check", "a.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("a.yml:6:21"), "{text}");
    assert!(text.contains("WF101"), "{text}");
    assert!(text.contains("did you mean `echo`?"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when not on a terminal");
}

#[test]
fn warnings_are_clean_unless_denied() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", WARNING);
    assert_eq!(wfc(&["check", "a.yml"], dir.path()).status.code(), Some(0));
    assert_eq!(
        wfc(&["check", "--deny-warnings", "a.yml"], dir.path())
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn usage_and_io_errors_exit_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = wfc(&["check", "no-such-dir"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));
    assert_eq!(
        wfc(&["check", "--format", "xml"], dir.path()).status.code(),
        Some(2)
    );
    assert_eq!(wfc(&["frobnicate"], dir.path()).status.code(), Some(2));
    assert_eq!(
        wfc(&["check", "--explain", "WF999"], dir.path())
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn json_format_is_one_versioned_object_with_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", BROKEN);
    write(dir.path(), "conf/b.yml", WARNING);
    let out = wfc(&["check", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    assert_eq!(value["version"], 1);
    let findings = value["findings"].as_array().expect("an array");
    assert_eq!(findings.len(), 2);
    let first = &findings[0];
    assert_eq!(first["file"], "conf/a.yml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(6), Some(21))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(6), Some(25))
    );
    assert_eq!(first["code"], "WF101");
    assert_eq!(first["severity"], "error");
    assert_eq!(findings[1]["severity"], "warning");
    // Every key, always (serde_json's maps list them sorted).
    let keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "code",
            "column",
            "end_column",
            "end_line",
            "end_offset",
            "file",
            "fix",
            "help",
            "label",
            "labels",
            "line",
            "message",
            "name",
            "notes",
            "offset",
            "severity"
        ]
    );
}

#[test]
fn github_format_annotations() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", BROKEN);
    let out = wfc(&["check", "--format", "github", "a.yml"], dir.path());
    let text = stdout(&out);
    assert!(
        text.starts_with("::error file=a.yml,line=6,col=21,endLine=6,endColumn=25,title=WF101 unknown-key::unknown key `ecoh`"),
        "{text}"
    );
    assert!(
        text.contains("%0Ahelp: did you mean"),
        "newlines are escaped: {text}"
    );
}

#[test]
fn sarif_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", BROKEN);
    let out = wfc(&["check", "--format", "sarif", "a.yml"], dir.path());
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "wfc");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "WF101");
    assert_eq!(result["level"], "error");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(6), Some(21))
    );
    let index = usize::try_from(result["ruleIndex"].as_u64().expect("index")).expect("fits");
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "WF101");
}

#[test]
fn default_path_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `.` is used when there is no ./conf ...
    write(dir.path(), "top.yml", BROKEN);
    assert_eq!(wfc(&["check"], dir.path()).status.code(), Some(1));
    // ... ./conf when it exists ...
    write(dir.path(), "conf/a.yml", CLEAN);
    assert_eq!(wfc(&["check"], dir.path()).status.code(), Some(0));
    // ... and $WORKFLOW_CORE_CONF_PATH over both.
    write(dir.path(), "elsewhere/a.yml", BROKEN);
    let out = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .arg("check")
        .current_dir(dir.path())
        .env("WORKFLOW_CORE_CONF_PATH", dir.path().join("elsewhere"))
        .output()
        .expect("run wfc");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn explain_prints_a_code() {
    let out = wfc(&["check", "--explain", "unknown-key"], &tests_dir());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("WF101 unknown-key (error)"), "{text}");
    assert!(text.contains("typo"), "{text}");
}

#[test]
fn bundled_example_checks_clean() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/conf");
    // From a scratch folder, so the check cache is not written into the sources.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = wfc(
        &["check", examples.to_str().expect("utf-8 path")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn custom_filters_can_be_declared() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "a.yml",
        "wf:\n  type: Workflow\n  params: {x: str}\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: '${{ params.x | slugify }}'}\n",
    );
    assert_eq!(wfc(&["check", "a.yml"], dir.path()).status.code(), Some(1));
    assert_eq!(
        wfc(&["check", "--filter", "slugify", "a.yml"], dir.path())
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn cache_gives_the_same_findings_and_notices_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parent = "parent:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: t, trigger: child}\n";
    write(dir.path(), "conf/parent.yml", parent);
    write(
        dir.path(),
        "conf/child.yml",
        "child:\n  type: Workflow\n  jobs: {}\n",
    );
    write(dir.path(), "conf/broken.yml", BROKEN);
    let cold = wfc(&["check", "conf"], dir.path());
    assert!(
        dir.path().join(".wfc/cache/check.bin").is_file(),
        "the cache is written"
    );
    let warm = wfc(&["check", "conf"], dir.path());
    let uncached = wfc(&["check", "--no-cache", "conf"], dir.path());
    assert_eq!(cold.status.code(), Some(1));
    assert_eq!(stdout(&cold), stdout(&warm));
    assert_eq!(stdout(&cold), stdout(&uncached));

    // The parent is unchanged (a cache hit), but the workflow it triggers is gone.
    write(
        dir.path(),
        "conf/child.yml",
        "renamed:\n  type: Workflow\n  jobs: {}\n",
    );
    let after = wfc(&["check", "--format", "json", "conf"], dir.path());
    let findings: serde_json::Value = serde_json::from_slice(&after.stdout).expect("json");
    let codes: Vec<&str> = findings["findings"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"WF303"), "{codes:?}");

    // Fixing the broken file is seen too.
    write(dir.path(), "conf/broken.yml", CLEAN);
    write(
        dir.path(),
        "conf/child.yml",
        "child:\n  type: Workflow\n  jobs: {}\n",
    );
    assert_eq!(wfc(&["check", "conf"], dir.path()).status.code(), Some(0));
}

#[test]
fn damaged_cache_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.yml", BROKEN);
    write(
        dir.path(),
        ".wfc/cache/check.bin",
        "WFCCHK01 not postcard at all",
    );
    let out = wfc(&["check", "a.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("WF101"));
    let again = wfc(&["check", "a.yml"], dir.path());
    assert_eq!(stdout(&out), stdout(&again));
}

#[test]
fn cache_depends_on_declared_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "a.yml",
        "wf:\n  type: Workflow\n  params: {x: str}\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: '${{ params.x | slugify }}'}\n",
    );
    assert_eq!(
        wfc(&["check", "--filter", "slugify", "a.yml"], dir.path())
            .status
            .code(),
        Some(0)
    );
    assert_eq!(wfc(&["check", "a.yml"], dir.path()).status.code(), Some(1));
    assert_eq!(
        wfc(&["check", "--filter", "slugify", "a.yml"], dir.path())
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn readme_lists_every_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README");
    for code in wfc_compiler::diagnostic::Code::ALL {
        let row = format!("| {} | {} |", code.id(), code.name());
        assert!(
            readme.contains(&row),
            "README's table of checks lacks {row}"
        );
    }
}

#[test]
fn a_named_file_without_workflows_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "compose.yml",
        "services:\n  web:\n    image: nginx\n",
    );
    let out = wfc(&["check", "compose.yml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("WF003"), "{}", stdout(&out));
    // In a folder, the same file is someone else's configuration and is skipped.
    assert_eq!(wfc(&["check", "."], dir.path()).status.code(), Some(0));
}
