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

#[test]
fn templates_ok() {
    let cases = lines("templates.ok");
    assert!(cases.len() >= 20);
    for case in cases {
        assert!(
            parse_template(&case).is_ok(),
            "should parse: {case:?}: {:?}",
            parse_template(&case)
        );
    }
}

#[test]
fn templates_err() {
    let cases = lines("templates.err");
    assert!(cases.len() >= 10);
    for case in cases {
        let error = parse_template(&case).expect_err(&case);
        assert!(
            error.range.end as usize <= case.len(),
            "{case:?}: range out of the text"
        );
    }
}

#[test]
fn conditions_ok() {
    let cases = lines("conditions.ok");
    assert!(cases.len() >= 20);
    for case in cases {
        assert!(
            parse_condition(&case).is_ok(),
            "should parse: {case:?}: {:?}",
            parse_condition(&case)
        );
    }
}

#[test]
fn conditions_err() {
    let cases = lines("conditions.err");
    assert!(cases.len() >= 10);
    for case in cases {
        let error = parse_condition(&case).expect_err(&case);
        assert!(
            error.range.end as usize <= case.len(),
            "{case:?}: range out of the text"
        );
    }
}
