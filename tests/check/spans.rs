//! Each check reports the right code at the right place (text under the span,
//! line and column), and stays quiet on correct input.

use wfc_compiler::diagnostic::Code;

use crate::support::{assert_one, found, found_code};

/// A workflow with one job whose stages are `stages` (indented as list items).
fn wf(stages: &str) -> String {
    let mut out = String::from(
        "wf:\n  type: Workflow\n  params:\n    name: str\n    kind: {type: choice, options: [a, b]}\n  jobs:\n    j:\n      stages:\n",
    );
    for line in stages.lines() {
        out.push_str("        ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn clean_workflow_has_no_findings() {
    let yaml = wf(
        "- name: hello\n  id: hello\n  echo: hi ${{ params.name }}\n- name: next\n  echo: ${{ stages.hello.outputs }}",
    );
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn yaml_syntax_error_position() {
    assert_one("a:\n  b: 1\n c: 2\n", Code::YamlSyntax, "c", 3, 2);
}

#[test]
fn duplicate_key_points_at_the_second() {
    let yaml = wf("- name: a\n  echo: one\n  echo: two");
    assert_one(&yaml, Code::DuplicateKey, "echo", 11, 11);
}

#[test]
fn unknown_key_with_suggestion() {
    let yaml = wf("- name: a\n  ecoh: hi");
    assert_one(&yaml, Code::UnknownKey, "ecoh", 10, 11);
}

#[test]
fn unknown_key_in_runs_on_args() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      runs-on:\n        type: docker\n        with: {imag: x}\n      stages: []\n";
    assert_one(yaml, Code::UnknownKey, "imag", 7, 16);
}

#[test]
fn missing_runs_on_args() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      runs-on:\n        type: container\n        with: {user: x}\n      stages: []\n";
    assert_one(yaml, Code::MissingKey, "with", 7, 9);
}

#[test]
fn wrong_type_points_at_value() {
    let yaml = wf("- name: a\n  sleep: [1]");
    assert_one(&yaml, Code::WrongType, "[1]", 10, 18);
}

#[test]
fn ambiguous_stage() {
    let yaml = wf("- name: a\n  bash: echo\n  uses: tasks/a@v1");
    assert_one(&yaml, Code::AmbiguousStage, "uses", 11, 11);
}

#[test]
fn misplaced_key() {
    let yaml = wf("- name: a\n  run: x = 1\n  env: {A: b}");
    assert_one(&yaml, Code::MisplacedKey, "env", 11, 11);
}

#[test]
fn version_without_deps_is_misplaced() {
    let yaml = wf("- name: a\n  run: x = 1\n  version: '3.11'");
    assert_one(&yaml, Code::MisplacedKey, "version", 11, 11);
}

#[test]
fn bounds_of_every_bounded_key() {
    for (stage, text) in [
        ("- name: a\n  sleep: -1", "-1"),
        ("- name: a\n  foreach: [1]\n  concurrent: 0", "0"),
        ("- name: a\n  until: 'loop > 1'\n  max-loop: 0", "0"),
        ("- name: a\n  bash: echo\n  retry: 20", "20"),
        ("- name: a\n  parallel: {b: []}\n  max-workers: 20", "20"),
        ("- name: a\n  echo: x\n  timeout: 0", "0"),
    ] {
        let all = found_code(&wf(stage), Code::OutOfBounds);
        assert_eq!(all.len(), 1, "{stage}: {all:?}");
        assert_eq!(all[0].text, text, "{stage}");
    }
}

#[test]
fn templated_bound_is_accepted() {
    let yaml = wf("- name: a\n  parallel: {b: []}\n  max-workers: ${{ params.name }}");
    assert_eq!(found_code(&yaml, Code::OutOfBounds), vec![]);
    assert_eq!(found_code(&yaml, Code::WrongType), vec![]);
}

#[test]
fn duplicate_stage_id_in_nested_scope() {
    let yaml = wf(
        "- name: each\n  foreach: [1, 2]\n  stages:\n    - {name: a, id: x, echo: a}\n    - {name: b, id: x, echo: b}",
    );
    assert_one(&yaml, Code::DuplicateStageId, "x", 13, 29);
}

#[test]
fn same_id_in_sibling_scopes_is_fine() {
    let yaml = wf(
        "- name: fan\n  parallel:\n    one:\n      - {name: a, id: x, echo: a}\n    two:\n      - {name: a, id: x, echo: a}",
    );
    assert_eq!(found_code(&yaml, Code::DuplicateStageId), vec![]);
}

#[test]
fn duplicate_workflow_across_files_names_both() {
    let (project, diagnostics) = crate::support::check_files(&[
        ("a.yml", "wf:\n  type: Workflow\n  jobs: {}\n"),
        ("b.yml", "name: wf\ntype: Workflow\njobs: {}\n"),
    ]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    assert_eq!(d.code, Code::DuplicateWorkflow);
    assert_eq!(project.sources.path(d.span.file).to_str(), Some("b.yml"));
    assert_eq!(
        project.sources.path(d.secondary[0].span.file).to_str(),
        Some("a.yml")
    );
}

#[test]
fn needs_cycle_reported_once_from_earliest_job() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    z:\n      needs: [y]\n      stages: []\n    y:\n      needs: [x]\n      stages: []\n    x:\n      needs: [z]\n      stages: []\n";
    let (_, diagnostics) = crate::support::check_files(&[("t.yml", yaml)]);
    let cycles: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.code == Code::NeedsCycle)
        .collect();
    assert_eq!(cycles.len(), 1);
    assert!(
        cycles[0].message.ends_with("z -> y -> x -> z"),
        "{}",
        cycles[0].message
    );
    assert_one(yaml, Code::NeedsCycle, "y", 5, 15);
}

#[test]
fn unknown_need() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    a:\n      needs: [b]\n      stages: []\n";
    assert_one(yaml, Code::UnknownNeed, "b", 5, 15);
}

#[test]
fn trigger_cycle_across_files() {
    let (project, diagnostics) = crate::support::check_files(&[
        (
            "a.yml",
            "a:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: t, trigger: b}\n",
        ),
        (
            "b.yml",
            "b:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: t, trigger: c}\n",
        ),
        (
            "c.yml",
            "c:\n  type: Workflow\n  jobs:\n    j:\n      stages:\n        - {name: t, trigger: a}\n",
        ),
    ]);
    let cycles: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.code == Code::TriggerCycle)
        .collect();
    assert_eq!(cycles.len(), 1, "{diagnostics:#?}");
    assert!(cycles[0].message.ends_with("a -> b -> c -> a"));
    assert_eq!(
        project.sources.path(cycles[0].span.file).to_str(),
        Some("a.yml")
    );
    assert_eq!(cycles[0].secondary.len(), 2);
}

#[test]
fn templated_trigger_checks_every_choice() {
    let yaml = wf("- name: t\n  trigger: child-${{ params.kind }}")
        + "child-a:\n  type: Workflow\n  jobs: {}\n";
    let all = found_code(&yaml, Code::UnknownWorkflow);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].text, "child-${{ params.kind }}");
}

#[test]
fn undeclared_param_points_at_the_name() {
    let yaml = wf("- name: a\n  echo: '${{ params.nmae }}'");
    assert_one(&yaml, Code::UndeclaredParam, "nmae", 10, 29);
}

#[test]
fn optional_segment_is_not_checked() {
    let yaml = wf("- name: a\n  echo: '${{ params.other? }} ${{ stages.x?.outputs }}'");
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn reference_in_block_scalar_maps_to_its_line() {
    let yaml = wf("- name: a\n  run: |\n    x = 1\n    y = '${{ params.nope }}'");
    assert_one(&yaml, Code::UndeclaredParam, "nope", 12, 29);
}

#[test]
fn reference_in_condition() {
    let yaml = wf(
        "- name: a\n  if: \"params.kind == 'a' and stages.later.outputs.x\"\n  echo: x\n- name: b\n  id: later\n  echo: y",
    );
    assert_one(&yaml, Code::UnknownStageRef, "later", 10, 46);
}

#[test]
fn stage_ref_to_earlier_sibling_and_parent() {
    let yaml = wf(
        "- {name: first, id: first, echo: a}\n- name: each\n  foreach: [1]\n  stages:\n    - {name: inner, id: inner, echo: '${{ stages.first.outputs }}'}\n    - {name: next, echo: '${{ stages.inner.outputs }} ${{ item }} ${{ loop }}'}",
    );
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn until_condition_sees_its_body() {
    let yaml = wf(
        "- name: loop\n  until: \"stages.poll.outputs.done == True\"\n  stages:\n    - {name: poll, id: poll, run: done = True}",
    );
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn hashed_default_id_is_visible() {
    // "Sleep" hashes to 7972360640, upstream's id for an id-less stage named Sleep.
    let yaml =
        wf("- {name: Sleep, echo: z}\n- {name: b, echo: '${{ stages.7972360640.outputs }}'}");
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn matrix_key_and_missing_matrix() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      strategy:\n        matrix: {region: [a]}\n      stages:\n        - {name: 'x ${{ matrix.region }}', echo: '${{ matrix.regoin }}'}\n";
    assert_one(yaml, Code::UnknownMatrixKey, "regoin", 8, 62);
}

#[test]
fn item_loop_branch_scopes() {
    let yaml = wf("- name: a\n  echo: '${{ loop }}'");
    assert_one(&yaml, Code::OutOfScope, "loop", 10, 22);
    let yaml = wf("- name: p\n  parallel:\n    one:\n      - {name: a, echo: '${{ branch }}'}");
    assert_eq!(found(&yaml), vec![]);
}

#[test]
fn retry_only_in_retrying_stages() {
    let yaml = wf(
        "- name: a\n  bash: echo \"$N\"\n  env: {N: '${{ retry }}'}\n- name: b\n  echo: '${{ retry }}'",
    );
    assert_one(&yaml, Code::OutOfScope, "retry", 13, 22);
}

#[test]
fn jobs_reference_needs_upstream() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    a:\n      stages: [{name: x, id: x, echo: a}]\n    b:\n      needs: [a]\n      stages: []\n    c:\n      needs: [b]\n      stages:\n        - {name: y, echo: '${{ jobs.a.stages.x.outputs }}'}\n        - {name: z, echo: '${{ jobs.d.stages }}'}\n";
    let all = found_code(yaml, Code::JobNotUpstream);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].text.as_str(), all[0].line), ("d", 13));
}

#[test]
fn stage_name_may_only_use_matrix() {
    let yaml = wf("- name: 'hello ${{ params.name }}'\n  echo: x");
    assert_one(&yaml, Code::TemplateNotAllowed, "params", 9, 28);
}

#[test]
fn filters_unknown_and_arity() {
    let yaml = wf("- name: a\n  echo: '${{ params.name | uppr }} ${{ params.name | getitem }}'");
    assert_one(&yaml, Code::UnknownFilter, "uppr", 10, 36);
    assert_one(&yaml, Code::FilterArguments, "getitem", 10, 62);
}

#[test]
fn template_syntax_error_position() {
    let yaml = wf("- name: a\n  echo: 'x ${{ params.name | }}'");
    assert_one(&yaml, Code::TemplateSyntax, "}", 10, 38);
}

#[test]
fn condition_syntax_error_position() {
    let yaml = wf("- name: a\n  if: \"params.name === 'x'\"\n  echo: hi");
    assert_one(&yaml, Code::ExpressionSyntax, "=", 10, 30);
}

#[test]
fn cron_error_points_into_the_expression() {
    let yaml =
        "wf:\n  type: Workflow\n  on:\n    schedule:\n      - cronjob: '0 0 32 * *'\n  jobs: {}\n";
    assert_one(yaml, Code::InvalidCron, "32", 5, 23);
}

#[test]
fn schedule_timezones_must_agree() {
    let yaml = "wf:\n  type: Workflow\n  on:\n    schedule:\n      - {cronjob: '0 0 * * *', timezone: Asia/Bangkok}\n      - {cronjob: '0 1 * * *'}\n  jobs: {}\n";
    assert_one(yaml, Code::InvalidSchedule, "{cronjob: '0 1 * * *'}", 6, 9);
}

#[test]
fn runs_on_unknown_type() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      runs-on: {type: aws_bacth}\n      stages: []\n";
    assert_one(yaml, Code::UnknownRunsOn, "aws_bacth", 5, 23);
}

#[test]
fn matrix_include_and_exclude_keys() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      strategy:\n        matrix: {a: [1, 2]}\n        include: [{a: 3, b: 1}]\n        exclude: [{c: 1}]\n      stages: []\n";
    let all = found_code(yaml, Code::MatrixKey);
    let texts: Vec<_> = all.iter().map(|f| (f.text.as_str(), f.line)).collect();
    assert_eq!(texts, vec![("b", 7), ("c", 8)]);
}

#[test]
fn matrix_values_must_not_mix() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    j:\n      strategy:\n        matrix: {a: [x, 1.5]}\n      stages: []\n";
    assert_one(yaml, Code::WrongType, "1.5", 6, 25);
}

#[test]
fn template_in_bash_and_constant_if_warn() {
    let yaml = wf("- name: a\n  if: true\n  bash: 'echo ${{ params.name }}'");
    assert_one(&yaml, Code::ConstantCondition, "true", 10, 15);
    assert_one(&yaml, Code::TemplateInScript, "${{ params.name }}", 11, 23);
}

#[test]
fn choice_default_must_be_an_option() {
    let yaml = "wf:\n  type: Workflow\n  params:\n    k: {type: choice, options: [a, b], default: c}\n  jobs: {}\n";
    assert_one(yaml, Code::InvalidDefault, "c", 4, 49);
}

#[test]
fn non_workflow_entries_are_ignored_quietly() {
    let yaml = "settings:\n  type: Dashboard\n  refresh: 30\nversion: 3\n";
    assert_eq!(found(yaml), vec![]);
}

#[test]
fn case_with_two_defaults() {
    let yaml = wf(
        "- name: c\n  case: '${{ params.kind }}'\n  match:\n    - case: _\n      stages: []\n    - else: []",
    );
    // One of each: upstream runs the last one; a warning on it.
    assert_one(&yaml, Code::TwoDefaultArms, "else", 14, 15);
    // Two of one form: upstream refuses the stage.
    let yaml =
        wf("- name: c\n  case: '${{ params.kind }}'\n  match:\n    - else: []\n    - else: []");
    assert_one(&yaml, Code::InvalidValue, "else", 13, 15);
}

#[test]
fn uses_with_reserved_argument() {
    let yaml = wf("- name: c\n  uses: tasks/a@v1\n  with: {result: 1}");
    assert_one(&yaml, Code::InvalidValue, "result", 11, 18);
}

#[test]
fn volume_host_paths_are_templates_the_check_sees() {
    // An undeclared param, an unknown filter in a host path: found where they are.
    let yaml = wf(
        "- name: box\n  image: busybox\n  volume:\n    ./${{ params.nope }}: /data\n    ./${{ params.name | nofilter }}/x: /x\n    '${{ params.name }}': /y\n    ${HOME}/z: /z",
    );
    assert_one(&yaml, Code::UndeclaredParam, "nope", 12, 26);
    assert_one(&yaml, Code::UnknownFilter, "nofilter", 13, 33);
    // What the text before the first template shows is judged: `..` that leaves
    // the working directory, an absolute path, the engine's socket.
    let yaml = wf(
        "- name: box\n  image: busybox\n  volume:\n    ./${{ params.name }}: /a\n    ../${{ params.name }}: /b\n    /etc/${{ params.name }}: /c\n    /var/run/${{ params.name }}: /d\n    data${{ params.name }}: /e\n    ${{ params.name }}: /f\n    ${HOME}/x: /g",
    );
    let hits = found_code(&yaml, Code::UnsafeVolume);
    let texts: Vec<&str> = hits.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "../${{ params.name }}",
            "/etc/${{ params.name }}",
            "/var/run/${{ params.name }}"
        ],
        "{hits:#?}"
    );
    assert_eq!(found(&yaml).len(), 3, "{:#?}", found(&yaml));
}

/// A quoted value or key followed by a comment: the finding's span ends at the
/// closing quote, not at the end of the line.
#[test]
fn a_quoted_scalar_ends_at_its_quote() {
    let yaml = wf("- name: t\n  trigger: \"othr\"   # the comment is not the name");
    assert_one(&yaml, Code::UnknownWorkflow, "\"othr\"", 10, 20);
    let yaml = wf("- name: a\n  'ec''oh': hi   # nor here");
    assert_one(&yaml, Code::UnknownKey, "'ec''oh'", 10, 11);
}
