//! `wfc schema`: every workflow `wfc check` takes validates against it, and the
//! fixtures of unknown keys, wrong types, missing keys and out-of-bounds values
//! fail it at the key `wfc check` reports.

use std::path::Path;

use wfc_compiler::api::{self, YamlKind, YamlNode};

use crate::support::tests_dir;

/// A YAML tree as JSON (keys as written).
fn to_json(node: &YamlNode) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        YamlKind::Null => Value::Null,
        YamlKind::Bool(b) => Value::Bool(*b),
        YamlKind::Int(n) => Value::from(*n),
        YamlKind::BigInt(digits) => digits
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        YamlKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        YamlKind::Str(s) => Value::String(s.clone()),
        YamlKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        YamlKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.name.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}

fn read(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("a fixture");
    let node = api::parse_yaml(&path.display().to_string(), &text).expect("YAML");
    to_json(&node)
}

fn validator() -> jsonschema::Validator {
    let schema = wfc_compiler::schema::schema();
    jsonschema::draft202012::new(&schema).expect("a valid schema")
}

/// The places (JSON pointers) where `file` fails the schema.
fn failures(validator: &jsonschema::Validator, file: &Path) -> Vec<String> {
    let instance = read(file);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} ({e})", e.instance_path()))
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .expect("a folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    found.sort();
    found
}

#[test]
fn the_schema_is_draft_2020_12_and_valid() {
    let schema = wfc_compiler::schema::schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(jsonschema::meta::is_valid(&schema));
}

#[test]
fn every_workflow_wfc_takes_validates() {
    let validator = validator();
    let root = tests_dir();
    let mut seen = 0;
    for dir in [
        root.join("fixtures/ok"),
        root.join("conformance/conf"),
        root.join("../examples/conf"),
    ] {
        for file in yaml_files(&dir) {
            let failed = failures(&validator, &file);
            assert!(failed.is_empty(), "{}: {failed:#?}", file.display());
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} files");
}

#[test]
fn the_fixtures_of_key_and_type_mistakes_fail_at_their_key() {
    let validator = validator();
    let err = tests_dir().join("fixtures/err");
    // Each fixture and the place of the key `wfc check` reports there.
    let cases = [
        ("WF101/field_name_not_alias.yml", "/wf/jobs/j/stages/0"),
        ("WF101/typo_in_job.yml", "/wf/jobs/j"),
        ("WF101/typo_in_stage.yml", "/wf/jobs/j/stages/0"),
        ("WF101/typo_in_workflow.yml", "/wf"),
        ("WF102/env_not_string.yml", "/wf/jobs/j/stages/0/env/A"),
        ("WF102/needs_string.yml", "/wf/jobs/b/needs"),
        ("WF102/on_list_form.yml", "/wf/on"),
        ("WF102/sleep_string.yml", "/wf/jobs/j/stages/0/sleep"),
        ("WF103/case_without_match.yml", "/wf/jobs/j/stages/0"),
        ("WF103/choice_without_options.yml", "/wf/params/x"),
        ("WF103/stage_without_name.yml", "/wf/jobs/j/stages/0"),
        ("WF106/concurrent.yml", "/wf/jobs/j/stages/0/concurrent"),
        ("WF106/max_loop.yml", "/wf/jobs/j/stages/0/max-loop"),
        ("WF106/max_parallel.yml", "/wf/jobs/j/strategy/max-parallel"),
        ("WF106/max_workers.yml", "/wf/jobs/j/stages/0/max-workers"),
        ("WF106/sleep.yml", "/wf/jobs/j/stages/0/sleep"),
        ("WF106/timeout.yml", "/wf/jobs/j/stages/0/timeout"),
    ];
    for (fixture, at) in cases {
        let failed = failures(&validator, &err.join(fixture));
        assert!(
            failed.iter().any(|f| f.starts_with(&format!("{at} "))),
            "{fixture}: expected a failure at {at}, got {failed:#?}"
        );
    }
    // Every fixture of those codes is in the table but the matrix's size (a
    // product of the axes' lengths, which a schema cannot count).
    for code in ["WF101", "WF102", "WF103", "WF106"] {
        for file in yaml_files(&err.join(code)) {
            let name = format!(
                "{code}/{}",
                file.file_name().and_then(|n| n.to_str()).unwrap_or("")
            );
            if name == "WF106/matrix.yml" {
                continue;
            }
            assert!(
                cases.iter().any(|(f, _)| *f == name),
                "{name} is not in the table"
            );
        }
    }
}

#[test]
fn runs_on_with_takes_its_types_keys() {
    let validator = validator();
    let with = |runs_on: &str| {
        let text = format!(
            "wf:\n  type: Workflow\n  jobs:\n    j:\n      runs-on: {runs_on}\n      stages: []\n"
        );
        let node = api::parse_yaml("w.yml", &text).expect("YAML");
        validator
            .iter_errors(&to_json(&node))
            .map(|e| e.instance_path().to_string())
            .collect::<Vec<_>>()
    };
    assert!(with("{type: container, with: {image: python}}").is_empty());
    assert!(with("local").is_empty());
    assert!(with("{type: self_hosted, with: {host: 'nats://h:4222'}}").is_empty());
    // A key another type takes; a required one missing.
    assert!(
        with("{type: container, with: {image: x, host: y}}")
            .contains(&"/wf/jobs/j/runs-on/with".to_string())
    );
    assert!(with("{type: container, with: {}}").contains(&"/wf/jobs/j/runs-on/with".to_string()));
    assert!(!with("{type: nowhere}").is_empty());
    assert!(with("{type: container}").contains(&"/wf/jobs/j/runs-on".to_string()));
}

#[test]
fn wfc_schema_prints_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .arg("schema")
        .output()
        .expect("wfc runs");
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, wfc_compiler::schema::schema());
}
