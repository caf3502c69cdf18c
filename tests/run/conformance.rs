//! `wfr run --output json` gives the same final context as ddeutil-workflow 0.0.86
//! (`info` aside) for every case of tests/conformance/cases.json. The goldens were
//! produced by the reference engine (tests/conformance/regenerate.py).

use serde_json::Value;

use crate::support::{stderr, tests_dir, wfr_with, without_info};

#[test]
fn every_case_matches_its_golden() {
    let root = tests_dir().join("conformance");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("cases.json")).expect("cases"))
            .expect("json");
    assert!(cases.len() >= 25, "the suite needs at least 25 cases");
    let work = tempfile::tempdir().expect("tempdir");
    let conf = root.join("conf");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let mut args: Vec<String> = vec![
            "run".into(),
            case["workflow"].as_str().expect("workflow").into(),
            "--output".into(),
            "json".into(),
        ];
        for (key, value) in case["params"].as_object().expect("params") {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            args.push("-p".into());
            args.push(format!("{key}={text}"));
        }
        if case["default_ids"].as_bool() == Some(true) {
            args.push("--default-ids".into());
        }
        let borrowed: Vec<&str> = args.iter().map(String::as_str).collect();
        // Call stages: the registry root of the case's task package (beside conf/).
        let envs: Vec<(&str, &str)> = case["registry"]
            .as_str()
            .map(|root| ("WORKFLOW_CORE_REGISTRY_CALLER", root))
            .into_iter()
            .collect();
        let out = wfr_with(&borrowed, work.path(), Some(&conf), &envs);
        let Ok(ours) = serde_json::from_slice::<Value>(&out.stdout) else {
            failures.push(format!(
                "{name}: no JSON on stdout (exit {:?}):\n{}",
                out.status.code(),
                stderr(&out)
            ));
            continue;
        };
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("golden").join(format!("{name}.json")))
                .expect("golden"),
        )
        .expect("golden json");
        let ours = without_info(ours);
        if ours != golden {
            failures.push(format!(
                "{name}: differs from the golden\nours:   {}\ngolden: {}",
                serde_json::to_string(&ours).unwrap_or_default(),
                serde_json::to_string(&golden).unwrap_or_default()
            ));
        }
        // The exit status follows the run's status.
        let expected = match golden["status"].as_str() {
            Some("FAILED") => 1,
            Some("CANCEL") => 3,
            _ => 0,
        };
        if out.status.code() != Some(expected) {
            failures.push(format!(
                "{name}: exit status {:?}, expected {expected}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
