//! Bounded property tests: no input makes the loader, the checker or the
//! expression parser panic. (Run in the normal test suite; raise PROPTEST_CASES
//! for a longer fuzzing session.)

use std::path::PathBuf;

use proptest::prelude::*;
use wfc_compiler::check;
use wfc_compiler::project::Project;
use wfc_compiler::syntax::expr::{parse_condition, parse_template};

use crate::support::tests_dir;

fn check_text(text: String) {
    let loaded = Project::from_sources(vec![(PathBuf::from("fuzz.yml"), text)]);
    let _ = check::run(&loaded.project, &check::Options::default());
    let mut out = Vec::new();
    let _ = wfc_compiler::render::write(
        &mut out,
        wfc_compiler::render::Format::Human,
        &loaded.project.sources,
        &loaded.diagnostics,
        &wfc_compiler::render::Options::default(),
    );
}

/// Every fixture file: the seeds that mutations start from.
fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![tests_dir().join("fixtures")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml") {
                out.push(std::fs::read_to_string(path).expect("read"));
            }
        }
    }
    out.sort();
    out
}

/// Pieces of YAML and of templates that mutations splice in.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    "\"",
    "|",
    ">",
    "&a ",
    "*a",
    "<<: *a",
    "${{",
    "}}",
    "${{ params.x }}",
    "${{ item | upper }}",
    "${",
    "$$",
    "?",
    "#",
    "!!str ",
    "~",
    "null",
    "true",
    "1e9",
    "-1",
    "999999999999999999999",
    "stages:",
    "- name: x",
    "foreach: ",
    "until: ",
    "parallel:",
    "case: ",
    "match:",
    "needs: [",
    "trigger: ",
    "uses: a/b@c",
    "bash: ",
    "run: ",
    "deps: ",
    "image: ",
    "raise: ",
    "matrix:",
    "include:",
    "type: Workflow",
    "jobs:",
    "params:",
    "on:",
    "schedule:",
    "cronjob: '",
    "é",
    "\u{feff}",
    "\r\n",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    Replace(usize, usize, usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = s.len().max(1);
        match *edit {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n % 20).min(s.len());
                if at < end {
                    s.drain(at..end);
                }
            }
            Edit::Insert(at, token) => {
                let at = (at % len).min(s.len());
                let t: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
                s.splice(at..at, t);
            }
            Edit::Replace(at, n, token) => {
                let at = at % len;
                let end = (at + n % 10).min(s.len());
                let t: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
                if at <= end {
                    s.splice(at..end, t);
                }
            }
        }
    }
    s.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, n, t)| Edit::Replace(a, n, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..8)) {
        let seeds = seeds();
        let text = &seeds[seed.index(seeds.len())];
        check_text(apply(text, &edits));
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(0..TOKENS.len(), 0..60)) {
        let text: String = tokens.into_iter().map(|t| TOKENS[t]).collect();
        check_text(text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_text(text);
    }

    #[test]
    fn expression_parsers_never_panic(text in "[ -~]{0,80}") {
        if let Err(e) = parse_template(&text) {
            prop_assert!(e.range.start <= e.range.end && e.range.end as usize <= text.len());
        }
        if let Err(e) = parse_condition(&text) {
            prop_assert!(e.range.start <= e.range.end && e.range.end as usize <= text.len());
        }
    }
}
