//! The fixes findings carry (`wfc check --fix`, an editor's quick fix): each
//! kind's applicability, and the exact bytes its edits make of the file.

use std::path::PathBuf;

use wfc_compiler::check::{self, Checked};
use wfc_compiler::diagnostic::{Applicability, Code, Diagnostic, Fix};

/// Checks files written to a temporary folder, as `wfc check` does (fixes
/// the file does not hold are dropped there).
fn check_dir(files: &[(&str, &str)]) -> Checked {
    let dir = tempfile::tempdir().expect("a folder");
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("written");
            path
        })
        .collect();
    check::check_paths(&paths, &check::Options::default(), None).expect("checked")
}

/// The findings of `code` in one file.
fn findings(yaml: &str, code: Code) -> Vec<Diagnostic> {
    check_dir(&[("t.yml", yaml)])
        .diagnostics
        .into_iter()
        .filter(|d| d.code == code)
        .collect()
}

/// The edits of a fix applied to `text`.
fn apply(text: &str, fix: &Fix) -> String {
    let mut edits: Vec<_> = fix.edits.iter().collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.span.start));
    let mut out = text.to_string();
    for edit in edits {
        if let Some(expected) = &edit.expected {
            assert_eq!(&out[edit.span.range()], expected, "{fix:?}");
        }
        out.replace_range(edit.span.range(), &edit.replacement);
    }
    out
}

/// The one finding of `code`, its fix's applicability and the fixed text.
#[track_caller]
fn fixed(yaml: &str, code: Code) -> (Applicability, String) {
    let found = findings(yaml, code);
    assert_eq!(found.len(), 1, "{found:#?}");
    let fix = found[0]
        .fix
        .as_ref()
        .unwrap_or_else(|| panic!("a fix: {found:#?}"));
    (fix.applicability, apply(yaml, fix))
}

/// The one finding of `code` has no fix.
#[track_caller]
fn no_fix(yaml: &str, code: Code) {
    let found = findings(yaml, code);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].fix, None, "{:#?}", found[0]);
}

/// A stage of a job of a workflow `wf`.
fn stage(lines: &str) -> String {
    format!("wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n{lines}")
}

#[test]
fn a_misspelt_key_is_renamed() {
    let yaml = stage("        - name: hi\n          ecoh: hi # say it\n");
    let (applicability, text) = fixed(&yaml, Code::UnknownKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        stage("        - name: hi\n          echo: hi # say it\n")
    );
    // Keys of jobs, workflows and `runs-on`'s `with` too.
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      neds: []\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::UnknownKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, yaml.replace("neds", "needs"));
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      runs-on: {type: self_hosted, with: {hots: nats://x}}\n      stages: []\n";
    let found = findings(yaml, Code::UnknownKey);
    let fix = found
        .iter()
        .find_map(|d| d.fix.as_ref())
        .expect("a fix of `hots`");
    assert_eq!(apply(yaml, fix), yaml.replace("hots", "host"));
}

#[test]
fn a_quoted_misspelt_key_gets_no_broken_fix() {
    // The key's span holds `"ecoh"`: a rename of `ecoh` there would be wrong.
    let yaml = stage("        - name: hi\n          \"ecoh\": hi\n");
    let found = findings(&yaml, Code::UnknownKey);
    assert_eq!(found.len(), 1, "{found:#?}");
    if let Some(fix) = &found[0].fix {
        assert_eq!(
            apply(&yaml, fix),
            stage("        - name: hi\n          \"echo\": hi\n")
        );
    }
    assert_eq!(found[0].help.as_deref(), Some("did you mean `echo`?"));
}

#[test]
fn a_key_of_another_stage_kind_is_an_unsafe_fix() {
    // `pyhton` is close to nothing a bash stage takes, but to `python`.
    let yaml = stage("        - name: hi\n          bash: echo hi\n          uess: x\n");
    let found = findings(&yaml, Code::UnknownKey);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("(a key of")),
        "{found:#?}"
    );
    let fix = found[0].fix.as_ref().expect("a fix");
    assert_eq!(fix.applicability, Applicability::Unsafe);
    assert_eq!(
        apply(&yaml, fix),
        stage("        - name: hi\n          bash: echo hi\n          uses: x\n")
    );
}

#[test]
fn a_misspelt_value_of_a_fixed_set_is_renamed() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    a:\n      stages: []\n    b:\n      needs: [a]\n      trigger-rule: all_sucess\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::InvalidValue);
    // `all_failed` and `all_done` are close too: the choice is the user's.
    assert_eq!(applicability, Applicability::Unsafe);
    assert_eq!(text, yaml.replace("all_sucess", "all_success"));
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    a:\n      runs-on:\n        type: self_hostd\n        with: {host: nats://x}\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::UnknownRunsOn);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, yaml.replace("self_hostd", "self_hosted"));
}

#[test]
fn misspelt_names_in_templates_are_renamed() {
    let wf = |run: &str| {
        format!(
            "wf:\n  type: Workflow\n  params:\n    region: str\n  jobs:\n    build:\n      strategy:\n        matrix:\n          python: ['3.11']\n      stages:\n        - name: a\n          id: first\n          echo: hi\n        - name: b\n          echo: \"{run}\"\n"
        )
    };
    for (written, meant, code) in [
        (
            "${{ parms.region }}",
            "${{ params.region }}",
            Code::UnknownName,
        ),
        (
            "${{ params.regoin }}",
            "${{ params.region }}",
            Code::UndeclaredParam,
        ),
        (
            "${{ matrix.pyhton }}",
            "${{ matrix.python }}",
            Code::UnknownMatrixKey,
        ),
        (
            "${{ stages.frist.outputs }}",
            "${{ stages.first.outputs }}",
            Code::UnknownStageRef,
        ),
        (
            "${{ stages.first.outptus }}",
            "${{ stages.first.outputs }}",
            Code::UnknownStageRef,
        ),
        (
            "${{ params.region | uppper }}",
            "${{ params.region | upper }}",
            Code::UnknownFilter,
        ),
    ] {
        let (applicability, text) = fixed(&wf(written), code);
        assert_eq!(applicability, Applicability::Safe, "{written}");
        assert_eq!(text, wf(meant), "{written}");
    }
}

#[test]
fn a_misspelt_need_and_matrix_row_key_are_renamed() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages: []\n    test:\n      needs:\n        - biuld\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::UnknownNeed);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, yaml.replace("biuld", "build"));
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      strategy:\n        matrix:\n          python: ['3.11', '3.12']\n        exclude:\n          - pyton: '3.11'\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::MatrixKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, yaml.replace("pyton:", "python:"));
}

#[test]
fn a_misspelt_trigger_target_and_param_are_renamed() {
    let target = "deploy-site:\n  type: Workflow\n  params:\n    region: str\n  jobs:\n    go:\n      stages: []\n";
    let trigger = |name: &str, param: &str| {
        format!(
            "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: go\n          trigger: {name}\n          params: {{{param}: eu}}\n"
        )
    };
    let check = |text: &str, code: Code| {
        let checked = check_dir(&[("target.yml", target), ("t.yml", text)]);
        let found: Vec<Diagnostic> = checked
            .diagnostics
            .into_iter()
            .filter(|d| d.code == code)
            .collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        let fix = found[0].fix.clone().expect("a fix");
        (fix.applicability, apply(text, &fix))
    };
    let (applicability, text) = check(&trigger("deploy-stie", "region"), Code::UnknownWorkflow);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, trigger("deploy-site", "region"));
    let (applicability, text) = check(&trigger("deploy-site", "regoin"), Code::UnknownTriggerParam);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(text, trigger("deploy-site", "region"));
}

#[test]
fn a_duplicate_key_with_the_same_value_loses_its_later_entry() {
    // Comments and odd indentation stay as written.
    let yaml = "wf:\n   type: Workflow\n   # the jobs\n   jobs:\n      build:\n         desc: builds # first\n         stages: []\n         desc: builds   # again\n         retry: 1\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        "wf:\n   type: Workflow\n   # the jobs\n   jobs:\n      build:\n         desc: builds # first\n         stages: []\n         retry: 1\n"
    );
}

#[test]
fn a_duplicate_key_with_a_block_value_goes_whole() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n      - name: a\n        echo: hi\n      extras:\n        x:\n        - 1\n        - {y: 2}\n      extras:\n        x:\n        - 1\n        - {y: 2}\n      # kept\n      retry: 1\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n      - name: a\n        echo: hi\n      extras:\n        x:\n        - 1\n        - {y: 2}\n      # kept\n      retry: 1\n"
    );
}

#[test]
fn a_duplicate_key_with_another_value_loses_its_earlier_entry_unsafely() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      retry: 1\n      stages: []\n      retry: 2\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(applicability, Applicability::Unsafe);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages: []\n      retry: 2\n"
    );
}

#[test]
fn duplicate_keys_and_aliases() {
    // An alias as the value: the values are equal, the later line goes.
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      extras: &x {a: 1}\n      stages: []\n      extras: *x\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      extras: &x {a: 1}\n      stages: []\n"
    );
    // The earlier entry defines the anchor the later one uses: kept.
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      extras: &x {a: 1}\n      stages: []\n      extras: {b: *x}\n";
    no_fix(yaml, Code::DuplicateKey);
}

#[test]
fn a_duplicate_key_in_a_flow_mapping_gets_no_fix() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build: {retry: 1, stages: [], retry: 1}\n";
    no_fix(yaml, Code::DuplicateKey);
    // Block entries: the earlier one goes when the values differ.
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: a\n          echo: hi\n        - name: b\n          echo: hi\n      retry: 1\n      retry: 2\n";
    let (_, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: a\n          echo: hi\n        - name: b\n          echo: hi\n      retry: 2\n"
    );
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: a\n          echo: hi\n          name: a\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateKey);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: a\n          echo: hi\n"
    );
    // The earlier entry shares its line with the list's dash: no fix.
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages:\n        - name: a\n          echo: hi\n          name: b\n";
    no_fix(yaml, Code::DuplicateKey);
}

#[test]
fn a_duplicate_job_and_workflow_are_fixed_too() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages: []\n    build:\n      stages: []\n";
    let (applicability, text) = fixed(yaml, Code::DuplicateJob);
    assert_eq!(applicability, Applicability::Safe);
    assert_eq!(
        text,
        "wf:\n  type: Workflow\n  jobs:\n    build:\n      stages: []\n"
    );
}

#[test]
fn a_repeated_need_is_removed() {
    let wf = |needs: &str| {
        format!(
            "wf:\n  type: Workflow\n  jobs:\n    a:\n      stages: []\n    b:\n      stages: []\n    c:\n{needs}      stages: []\n"
        )
    };
    for (written, meant) in [
        ("      needs: [a, b, a]\n", "      needs: [a, b]\n"),
        ("      needs: [a, a, b]\n", "      needs: [a, b]\n"),
        ("      needs: [ a , 'a' ]\n", "      needs: [ a ]\n"),
        (
            "      needs:\n        - a\n        - b\n        - a # again\n",
            "      needs:\n        - a\n        - b\n",
        ),
        // The list at the key's column.
        (
            "      needs:\n      - a\n      - a\n      - b\n",
            "      needs:\n      - a\n      - b\n",
        ),
    ] {
        let (applicability, text) = fixed(&wf(written), Code::DuplicateNeed);
        assert_eq!(applicability, Applicability::Safe, "{written}");
        assert_eq!(text, wf(meant), "{written}");
    }
    // A flow list over several lines.
    let yaml = wf("      needs: [a, b, a\n        ]\n");
    let (_, text) = fixed(&yaml, Code::DuplicateNeed);
    assert_eq!(text, wf("      needs: [a, b\n        ]\n"));
}

/// A workflow whose `on` is written `on` (then the rest of the workflow).
fn with_on(on: &str) -> String {
    format!("wf:\n  type: Workflow\n{on}  jobs:\n    build:\n      stages: []\n")
}

#[test]
fn on_as_a_list_is_written_under_schedule() {
    for (written, meant) in [
        (
            "  on: [{cronjob: '0 0 * * *'}]\n",
            "  on: {schedule: [{cronjob: '0 0 * * *'}]}\n",
        ),
        (
            "  on:\n    - cronjob: '0 0 * * *'  # nightly\n\n      timezone: UTC\n    # weekly\n    - cronjob: '0 0 * * 1'\n      timezone: UTC\n",
            "  on:\n    schedule:\n      - cronjob: '0 0 * * *'  # nightly\n\n        timezone: UTC\n      # weekly\n      - cronjob: '0 0 * * 1'\n        timezone: UTC\n",
        ),
        // The list at `on`'s column.
        (
            "  on:\n  - cronjob: '0 0 * * *'\n",
            "  on:\n    schedule:\n    - cronjob: '0 0 * * *'\n",
        ),
        // A comment after `on:`; three-space indentation.
        (
            "  on: # when\n     -  cronjob: '0 0 * * *'\n        timezone: UTC\n",
            "  on: # when\n     schedule:\n       -  cronjob: '0 0 * * *'\n          timezone: UTC\n",
        ),
    ] {
        let (applicability, text) = fixed(&with_on(written), Code::WrongType);
        assert_eq!(applicability, Applicability::Safe, "{written}");
        assert_eq!(text, with_on(meant), "{written}");
        assert!(
            findings(&text, Code::WrongType).is_empty(),
            "the fixed file reads: {text}"
        );
    }
    // Through an anchor: the list is written elsewhere.
    let yaml = "x: &s [{cronjob: '0 0 * * *'}]\nwf:\n  type: Workflow\n  on: *s\n  jobs:\n    build:\n      stages: []\n";
    no_fix(yaml, Code::WrongType);
}

#[test]
fn an_ignored_inner_name_or_id_is_removed() {
    let yaml = "wf:\n  type: Workflow\n  name: other # not this\n  jobs:\n    build:\n      id: builder\n      stages: []\n";
    let found = findings(yaml, Code::NameMismatch);
    assert_eq!(found.len(), 2, "{found:#?}");
    let texts: Vec<String> = found
        .iter()
        .map(|d| {
            let fix = d.fix.as_ref().expect("a fix");
            assert_eq!(fix.applicability, Applicability::Safe);
            apply(yaml, fix)
        })
        .collect();
    assert_eq!(
        texts,
        [
            "wf:\n  type: Workflow\n  jobs:\n    build:\n      id: builder\n      stages: []\n",
            "wf:\n  type: Workflow\n  name: other # not this\n  jobs:\n    build:\n      stages: []\n",
        ]
    );
    // In a flow mapping: no fix.
    no_fix(
        "wf:\n  type: Workflow\n  jobs:\n    build: {id: builder, stages: []}\n",
        Code::NameMismatch,
    );
}

#[test]
fn a_misspelt_workflow_type_is_an_unsafe_fix() {
    let yaml = "wf:\n  type: Workflw\n  jobs: {}\n";
    let (applicability, text) = fixed(yaml, Code::IgnoredEntry);
    assert_eq!(applicability, Applicability::Unsafe);
    assert_eq!(text, yaml.replace("Workflw", "Workflow"));
}

#[test]
fn a_misspelt_function_and_argument_of_a_call_are_renamed() {
    let dir = tempfile::tempdir().expect("a folder");
    let tasks = "from ddeutil.workflow import tag\n\n\n@tag(\"v1\", alias=\"load\")\ndef load(table: str, limit: int = 10) -> dict:\n    return {}\n";
    let flow = "flow:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - name: a\n          uses: tasks/lod@v1\n        - name: b\n          uses: \"tasks/lod@v1\"\n        - name: c\n          uses: tasks/load@v1\n          with: {table: a, limt: 5}\n";
    crate::support::write(dir.path(), "tasks/__init__.py", tasks);
    crate::support::write(dir.path(), "conf/flow.yml", flow);
    let conf = dir.path().join("conf");
    let checked = check::check_paths(
        std::slice::from_ref(&conf),
        &check::Options::default(),
        None,
    )
    .expect("checked");
    let registry =
        wfc_compiler::registry::query(&checked, &[conf]).expect("python3 imports the tasks");
    let found = wfc_compiler::registry::check_calls(&checked, &registry);
    let fixes: Vec<Option<(Applicability, String)>> = found
        .iter()
        .map(|d| d.fix.as_ref().map(|f| (f.applicability, apply(flow, f))))
        .collect();
    assert_eq!(
        fixes,
        [
            Some((
                Applicability::Safe,
                flow.replacen("tasks/lod@v1", "tasks/load@v1", 1)
            )),
            // Quoted: the word is not where a plain scalar would put it.
            None,
            Some((Applicability::Safe, flow.replace("limt", "limit"))),
        ],
        "{found:#?}"
    );
}

#[test]
fn fixes_keep_crlf_line_breaks() {
    let yaml = "wf:\r\n  type: Workflow\r\n  jobs:\r\n    build:\r\n      retry: 1\r\n      stages: []\r\n      retry: 1\r\n      needs: [a]\r\n";
    let found = findings(yaml, Code::DuplicateKey);
    assert_eq!(found.len(), 1, "{found:#?}");
    let fix = found[0].fix.as_ref().expect("a fix");
    assert_eq!(fix.applicability, Applicability::Safe);
    assert_eq!(
        apply(yaml, fix),
        "wf:\r\n  type: Workflow\r\n  jobs:\r\n    build:\r\n      retry: 1\r\n      stages: []\r\n      needs: [a]\r\n"
    );
}
