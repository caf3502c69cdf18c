//! The expression grammar's conformance corpus: `tests/expressions/*.ok` must parse
//! and `*.err` must not, one expression per line (`#` starts a comment line).

use wfc_compiler::syntax::expr::{parse_condition, parse_template};

use crate::support::tests_dir;

fn lines(name: &str) -> Vec<String> {
    let path = tests_dir().join("expressions").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}

/// Every line of `name` parses (`ok`) or fails with a range inside the line.
fn corpus<T: std::fmt::Debug>(
    name: &str,
    ok: bool,
    parse: impl Fn(&str) -> Result<T, wfc_compiler::syntax::expr::SyntaxError>,
) {
    let cases = lines(name);
    assert!(cases.len() >= 10, "{name} is too small");
    for case in cases {
        match parse(&case) {
            Ok(value) => assert!(ok, "should not parse: {case:?}: {value:?}"),
            Err(error) => {
                assert!(!ok, "should parse: {case:?}: {error:?}");
                assert!(
                    error.range.end as usize <= case.len(),
                    "{case:?}: range out of the text"
                );
            }
        }
    }
}

#[test]
fn templates_ok() {
    corpus("templates.ok", true, parse_template);
}

#[test]
fn templates_err() {
    corpus("templates.err", false, parse_template);
}

#[test]
fn conditions_ok() {
    corpus("conditions.ok", true, parse_condition);
}

#[test]
fn conditions_err() {
    corpus("conditions.err", false, parse_condition);
}
