//! Living with the linter: `wfc.toml`, suppressions, `--fix` / `--diff`, stdin
//! and `--watch`, through the `wfc` binary.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{stdout, write};

fn wfc(args: &[&str], cwd: &Path) -> Output {
    wfc_with_stdin(args, cwd, None)
}

fn wfc_with_stdin(args: &[&str], cwd: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(cwd)
        .env_remove("WORKFLOW_CORE_CONF_PATH")
        .env_remove("WFC_CACHE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wfc");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn codes(out: &Output) -> Vec<String> {
    let text = stdout(out);
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let findings = json
        .get("findings")
        .and_then(|f| f.as_array())
        .or_else(|| json.as_array())
        .expect("findings")
        .clone();
    findings
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect()
}

/// A workflow with a warning (WF901) on line 9 and an error (WF101) on line 11.
const TWO: &str = "\
wf:
  type: Workflow
  params:
    name: str
  jobs:
    j:
      stages:
        - name: Script
          bash: echo ${{ params.name }}
        - name: Typo
          ecoh: hi
";

#[test]
fn the_configuration_is_found_above_the_paths_and_decides_what_is_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", TWO);
    write(
        dir.path(),
        "wfc.toml",
        "conf = \"conf\"\nignore = [\"template-in-script\"]\n[severity]\nWF101 = \"warning\"\n",
    );
    // From a folder below the configuration, with no path: `conf` is checked.
    let out = wfc(&["check", "--format", "json"], dir.path());
    assert_eq!(codes(&out), vec!["WF101"], "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "WF101 is a warning here");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let finding = json.get("findings").map_or(&json[0], |f| &f[0]);
    assert_eq!(finding["severity"], "warning");
    let sub = dir.path().join("conf");
    let out = wfc(&["check", "a.yml", "--format", "json"], &sub);
    assert_eq!(
        codes(&out),
        vec!["WF101"],
        "found by walking up from the path"
    );
    // --isolated reads none, --config a given one.
    let out = wfc(
        &["check", "--isolated", "conf", "--format", "json"],
        dir.path(),
    );
    assert_eq!(codes(&out), vec!["WF901", "WF101"]);
    write(dir.path(), "other.toml", "select = [\"WF9\"]\n");
    let out = wfc(
        &[
            "check",
            "--config",
            "other.toml",
            "conf",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(codes(&out), vec!["WF901"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn per_file_ignores_match_globs_from_the_configuration_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/legacy/a.yml", TWO);
    write(dir.path(), "conf/new/b.yml", &TWO.replace("wf:", "wf-b:"));
    write(
        dir.path(),
        "wfc.toml",
        "[per-file-ignores]\n\"conf/legacy/**\" = [\"WF1\", \"WF9\"]\n",
    );
    let out = wfc(&["check", "conf", "--format", "json"], dir.path());
    assert_eq!(codes(&out), vec!["WF901", "WF101"], "only b.yml's");
    assert!(stdout(&out).contains("conf/new/b.yml"));
    assert!(!stdout(&out).contains("legacy"));
}

#[test]
fn pyproject_tool_wfc_is_read_and_other_pyprojects_are_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", TWO);
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.wfc]\nignore = [\"WF101\"]\n",
    );
    write(
        dir.path(),
        "conf/pyproject.toml",
        "[project]\nname = \"x\"\n",
    );
    let out = wfc(&["check", "conf", "--format", "json"], dir.path());
    assert_eq!(codes(&out), vec!["WF901"]);
    let out = wfc(&["check", "--show-config", "conf"], dir.path());
    let text = stdout(&out);
    assert!(
        text.starts_with("configuration: pyproject.toml\n"),
        "{text}"
    );
    assert!(
        text.contains("ignore           = [\"WF101\"]") && text.contains("# pyproject.toml:2"),
        "{text}"
    );
    assert!(
        text.contains("select           = [\"ALL\"]") && text.contains("# default"),
        "{text}"
    );
}

#[test]
fn a_mistake_in_the_configuration_says_where_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", TWO);
    write(
        dir.path(),
        "wfc.toml",
        "conf = \"conf\"\nignroe = [\"WF901\"]\n",
    );
    let out = wfc(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("wfc.toml:2:1: unknown key `ignroe`")
            && text.contains("did you mean `ignore`?"),
        "{text}"
    );
    write(dir.path(), "wfc.toml", "ignore = [\"WF9O1\"]\n");
    let text = stderr(&wfc(&["check"], dir.path()));
    assert!(
        text.contains("wfc.toml:1:11: `ignore` names `WF9O1`, which is no code"),
        "{text}"
    );
    write(dir.path(), "wfc.toml", "ignore = [\"WF001\"]\n");
    let text = stderr(&wfc(&["check"], dir.path()));
    assert!(
        text.contains("WF001 yaml-syntax cannot be ignored"),
        "{text}"
    );
}

#[test]
fn suppressions_on_the_line_above_or_the_line_and_for_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = TWO
        .replace(
            "          bash: echo ${{ params.name }}\n",
            "          # wfc: ignore[template-in-script]\n          bash: echo ${{ params.name }}\n",
        )
        .replace("ecoh: hi\n", "ecoh: hi  # wfc: ignore[WF101, WF404] why: kept for upstream\n");
    write(dir.path(), "a.yml", &text);
    let out = wfc(&["check", "a.yml", "--format", "json"], dir.path());
    // WF101 and WF901 suppressed; WF404 on that line suppressed nothing.
    assert_eq!(codes(&out), vec!["WF905"], "{}", stdout(&out));
    assert_eq!(out.status.code(), Some(0));
    let out = wfc(
        &["check", "a.yml", "--format", "json", "--no-suppress"],
        dir.path(),
    );
    assert_eq!(codes(&out), vec!["WF901", "WF101"]);
    assert_eq!(out.status.code(), Some(1));
    // The unused code's fix removes it alone, byte for byte.
    let out = wfc(&["check", "a.yml", "--fix"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = std::fs::read_to_string(dir.path().join("a.yml")).expect("read");
    assert_eq!(fixed, text.replace("[WF101, WF404]", "[WF101]"));
    // A file-wide suppression.
    write(
        dir.path(),
        "b.yml",
        &format!(
            "# wfc: ignore-file[WF101, WF901]\n{}",
            TWO.replace("wf:", "wf-b:")
        ),
    );
    let out = wfc(&["check", "b.yml", "--format", "json"], dir.path());
    assert_eq!(codes(&out), Vec::<String>::new());
}

/// Comments, anchors and a merge, three-space indentation, flow style and
/// Windows line breaks: only the misspelt keys change.
const FIXABLE: &str = "\
# header comment: kept
shared: &shared   # an anchor
   name: Shared
   echo: shared

wf-fix:
   type: Workflow     # three spaces
   jobs:
      build:
         stages:
            - <<: *shared
            - name: Typo     # the key below is misspelt
              ecoh: \"hi\"     # keep this comment
            -    {name: Flow,   ecoh: flow}   # flow style
";

#[test]
fn fix_changes_only_the_edited_spans() {
    for breaks in ["\n", "\r\n"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = FIXABLE.replace('\n', breaks);
        write(dir.path(), "a.yml", &text);
        let out = wfc(&["check", "a.yml", "--diff"], dir.path());
        assert_eq!(out.status.code(), Some(1), "a diff exits 1");
        let diff = stdout(&out);
        assert!(diff.starts_with("--- a/a.yml\n+++ b/a.yml\n"), "{diff}");
        assert!(diff.contains("-              ecoh: \"hi\""), "{diff}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yml")).expect("read"),
            text,
            "--diff writes nothing"
        );
        let out = wfc(&["check", "a.yml", "--fix"], dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("wfc: fixed 2 findings in 1 file"),
            "{}",
            stderr(&out)
        );
        let fixed = std::fs::read(dir.path().join("a.yml")).expect("read");
        assert_eq!(
            String::from_utf8(fixed).expect("utf-8"),
            text.replace("ecoh", "echo")
        );
        // Nothing left to do.
        let out = wfc(&["check", "a.yml", "--diff"], dir.path());
        assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    }
}

#[test]
fn a_fix_that_would_add_a_finding_is_refused_and_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `ecoh` is `echo`, but the stage has an `echo` already: the rename would
    // make a duplicate key.
    let text = "wf:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: a\n          echo: one\n          ecoh: two\n";
    write(dir.path(), "a.yml", text);
    let out = wfc(&["check", "a.yml", "--fix"], dir.path());
    assert_eq!(out.status.code(), Some(1), "the error remains");
    let err = stderr(&out);
    assert!(
        err.contains("a.yml:8: not fixed: WF101 unknown-key (replace `ecoh` with `echo`): it would add a finding: WF002 duplicate key `echo`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.yml")).expect("read"),
        text
    );
    assert!(stdout(&out).contains("WF101"), "the finding is still shown");
}

#[test]
fn unsafe_fixes_need_their_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two params are close to `nam`: the fix is unsafe.
    let text = "wf:\n  type: Workflow\n  params:\n    name: str\n    names: str\n  jobs:\n    j:\n      stages:\n        - name: a\n          echo: ${{ params.nam }}\n";
    write(dir.path(), "a.yml", text);
    let out = wfc(&["check", "a.yml", "--fix"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.yml")).expect("read"),
        text
    );
    let out = wfc(&["check", "a.yml", "--fix", "--unsafe-fixes"], dir.path());
    let fixed = std::fs::read_to_string(dir.path().join("a.yml")).expect("read");
    assert_ne!(fixed, text, "{}", stderr(&out));
    assert!(
        fixed.contains("${{ params.name }}") || fixed.contains("${{ params.names }}"),
        "{fixed}"
    );
}

#[test]
fn fix_keeps_a_link_and_the_file_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "real/a.yml",
        &FIXABLE.replace("wf-fix", "wf-linked"),
    );
    let real = dir.path().join("real/a.yml");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::create_dir(dir.path().join("conf")).expect("mkdir");
    std::os::unix::fs::symlink(&real, dir.path().join("conf/a.yml")).expect("link");
    let out = wfc(&["check", "conf/a.yml", "--fix"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(dir.path().join("conf/a.yml"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .expect("read")
            .contains("echo: \"hi\"")
    );
    let mode = std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn stdin_is_checked_in_place_of_the_file_it_stands_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "conf/a.yml",
        "wf-a:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: a, echo: hi}\n",
    );
    let b = "wf-b:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: t, trigger: wf-a}\n        - {name: e, ecoh: hi}\n";
    write(
        dir.path(),
        "conf/b.yml",
        "wf-b:\n  type: Workflow\n  jobs: {}\n",
    );
    // The trigger finds wf-a in the other file; only stdin's findings are shown, under its name.
    let out = wfc_with_stdin(
        &[
            "check",
            "-",
            "--stdin-filename",
            "conf/b.yml",
            "--format",
            "json",
        ],
        dir.path(),
        Some(b),
    );
    assert_eq!(codes(&out), vec!["WF101"], "{}", stderr(&out));
    assert!(stdout(&out).contains("\"conf/b.yml\""), "{}", stdout(&out));
    // Fixing stdin prints the fixed text; the file on disk is not touched.
    let out = wfc_with_stdin(
        &["check", "-", "--stdin-filename", "conf/b.yml", "--fix"],
        dir.path(),
        Some(b),
    );
    assert_eq!(stdout(&out), b.replace("ecoh", "echo"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("conf/b.yml")).expect("read"),
        "wf-b:\n  type: Workflow\n  jobs: {}\n"
    );
    // Without a name.
    let out = wfc_with_stdin(
        &["check", "-", "--isolated", "--format", "json", "conf/a.yml"],
        dir.path(),
        Some(b),
    );
    assert!(stdout(&out).contains("\"<stdin>\""), "{}", stdout(&out));
    // A name without stdin is a usage error.
    let out = wfc(&["check", "--stdin-filename", "x.yml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("add `-` to the paths"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn compile_keeps_a_plan_from_a_workflow_whose_error_is_hidden() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", TWO);
    write(dir.path(), "wfc.toml", "ignore = [\"WF101\"]\n");
    let out = wfc(&["compile", "conf"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("conf/a.yml:11:11: WF101 unknown-key is hidden by the configuration or a comment, but it is an error"),
        "{err}"
    );
    assert!(!dir.path().join(".wfc/plans/wf.wfp").exists());
}

#[test]
fn watch_checks_again_when_a_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "conf/a.yml", TWO);
    write(dir.path(), "conf/b.yml", &TWO.replace("wf:", "wf-b:"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["check", "--watch", "conf"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (lines, receive) = std::sync::mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = receive
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what}"));
            if line.contains("watching") {
                return line;
            }
        }
    };
    let first = next("first check");
    assert!(
        first.contains("2 errors and 2 warnings in 2 files (2 parsed again)"),
        "{first}"
    );
    // Writing the cache did not set off a check; fixing a file does.
    write(dir.path(), "conf/a.yml", &TWO.replace("ecoh", "echo"));
    let second = next("second check");
    assert!(
        second.contains("1 error and 2 warnings in 2 files (1 parsed again)"),
        "{second}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
