//! The acceptance bar: a realistic 200-line pipeline (`tests/fixtures/bar/`) with
//! one mistake of each kind gets every mistake reported in one run, each at the
//! right line and column, and nothing else.
//!
//! Expectations live in the fixtures as caret comments under the offending line:
//!
//! ```yaml
//!           retry: 25
//! #                ^ WF106
//! ```
//!
//! (`#< CODE` marks column 1, where a caret cannot go.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use wfc_compiler::check;
use wfc_compiler::diagnostic::{Code, Diagnostics};
use wfc_compiler::project::Project;

use crate::support::tests_dir;

/// (file, line, column, code) of every caret comment.
fn expectations(name: &str, text: &str) -> BTreeSet<(String, usize, usize, String)> {
    let mut out = BTreeSet::new();
    let mut target = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(code) = line.strip_prefix("#<") {
            out.insert((name.to_string(), target, 1, code.trim().to_string()));
            continue;
        }
        let caret = line.find('^');
        let is_caret = line.starts_with('#')
            && caret.is_some()
            && line[1..caret.unwrap_or(0)].trim().is_empty();
        if is_caret {
            let column = caret.unwrap_or(0) + 1;
            let code = line[column..].trim().to_string();
            out.insert((name.to_string(), target, column, code));
        } else if !trimmed.is_empty() {
            target = i + 1;
        }
    }
    out
}

#[test]
fn every_mistake_is_reported_at_its_place() {
    let dir = tests_dir().join("fixtures/bar");
    let mut expected = BTreeSet::new();
    let mut files = Vec::new();
    for name in ["broken.yml", "other.yml", "pipeline.yml"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("read");
        expected.extend(expectations(name, &text));
        files.push((PathBuf::from(name), text));
    }
    let pipeline_lines = files[2]
        .1
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .count();
    assert!(
        pipeline_lines >= 190,
        "the pipeline should be realistic in size: {pipeline_lines}"
    );

    let loaded = Project::from_sources(files);
    let mut all = Diagnostics::default();
    all.extend(loaded.diagnostics);
    all.extend(check::run(&loaded.project, &check::Options::default()));
    let diagnostics = all.into_sorted();
    let actual: BTreeSet<(String, usize, usize, String)> = diagnostics
        .iter()
        .map(|d| {
            let file = loaded.project.sources.get(d.span.file);
            let (line, column) = file.line_col(d.span.start);
            (
                file.path.to_string_lossy().into_owned(),
                line,
                column,
                d.code.id().to_string(),
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nunexpected: {extra:#?}"
    );

    // One mistake of each kind the issue lists.
    let codes: BTreeSet<&str> = expected.iter().map(|e| e.3.as_str()).collect();
    for code in [
        "WF001", "WF002", "WF101", "WF102", "WF104", "WF105", "WF106", "WF201", "WF202", "WF203",
        "WF301", "WF302", "WF303", "WF304", "WF401", "WF402", "WF404", "WF405", "WF406", "WF407",
        "WF408", "WF409", "WF501", "WF503", "WF504", "WF901", "WF902",
    ] {
        assert!(
            codes.contains(code),
            "the bar fixture lacks a {code} mistake"
        );
    }
    // The duplicate workflow names both places.
    let duplicate = diagnostics
        .iter()
        .find(|d| d.code == Code::DuplicateWorkflow)
        .expect("WF201");
    let other = loaded
        .project
        .sources
        .path(duplicate.secondary[0].span.file);
    assert_eq!(other.to_str(), Some("other.yml"));
}
