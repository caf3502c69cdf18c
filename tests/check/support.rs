//! Helpers shared by the test modules.

use std::path::{Path, PathBuf};

#[path = "../common.rs"]
mod common;
pub use common::{assert_version_line, bounded, installed, mkfifo, stdout, syntax_ok, write};

use wfc_compiler::check;
use wfc_compiler::diagnostic::{Code, Diagnostic, Diagnostics};
use wfc_compiler::project::{Loaded, Project};
use wfc_compiler::render::{self, Format};

/// The repository's `tests/` folder.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// Loads and checks in-memory files; returns the project and sorted findings.
pub fn check_files(files: &[(&str, &str)]) -> (Project, Vec<Diagnostic>) {
    let Loaded {
        project,
        diagnostics,
        suppressions,
    } = Project::from_sources(
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
            .collect(),
    );
    let mut all = Diagnostics::default();
    all.extend(diagnostics);
    all.extend(check::run(&project, &check::Options::default()));
    // As `wfc check` shows them, with no configuration: suppressed ones hidden.
    let shown = wfc_compiler::suppress::apply(
        wfc_compiler::suppress::Policy::default(),
        &project.sources,
        &suppressions,
        all.into_sorted(),
    );
    (project, shown)
}

/// One finding as tests compare it: code, the text under the span, line, column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub code: Code,
    pub text: String,
    pub line: usize,
    pub column: usize,
}

/// Checks one file and describes every finding.
pub fn found(yaml: &str) -> Vec<Found> {
    let (project, diagnostics) = check_files(&[("t.yml", yaml)]);
    diagnostics
        .iter()
        .map(|d| {
            let file = project.sources.get(d.span.file);
            let (line, column) = file.line_col(d.span.start);
            Found {
                code: d.code,
                text: file.slice(d.span).to_string(),
                line,
                column,
            }
        })
        .collect()
}

/// The findings of one code.
pub fn found_code(yaml: &str, code: Code) -> Vec<Found> {
    found(yaml).into_iter().filter(|f| f.code == code).collect()
}

/// Asserts exactly one finding of `code`, over `text`, at `line:column`.
#[track_caller]
pub fn assert_one(yaml: &str, code: Code, text: &str, line: usize, column: usize) {
    let all = found(yaml);
    let hits: Vec<&Found> = all.iter().filter(|f| f.code == code).collect();
    assert_eq!(hits.len(), 1, "expected one {code:?}, got {all:#?}");
    assert_eq!(
        (hits[0].text.as_str(), hits[0].line, hits[0].column),
        (text, line, column),
        "{all:#?}"
    );
}

/// The human rendering of findings, without colour.
pub fn render_human(project: &Project, diagnostics: &[Diagnostic]) -> String {
    let mut out = Vec::new();
    render::write(
        &mut out,
        Format::Human,
        &project.sources,
        diagnostics,
        &render::Options::default(),
    )
    .expect("render");
    String::from_utf8(out).expect("utf-8")
}
