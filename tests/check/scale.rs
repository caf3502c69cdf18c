//! Large workflows: what the checks say does not change with size, and mistakes
//! among thousands of names still come with bounded messages. (How the time grows
//! is measured by `cargo bench --bench check -- scale`, not here.)

use std::fmt::Write as _;

use wfc_compiler::diagnostic::Code;

use crate::support::{check_files, found};

/// A chain of `n` jobs, each needing the one before; `reads` gives, for a job,
/// the job its stage reads through `jobs.<id>`.
fn chain(n: usize, reads: impl Fn(usize) -> Option<usize>) -> String {
    let mut text = String::from("wf:\n  type: Workflow\n  jobs:\n");
    for i in 0..n {
        let _ = writeln!(text, "    j{i}:");
        if i > 0 {
            let _ = writeln!(text, "      needs: [j{}]", i - 1);
        }
        let echo = reads(i).map_or_else(
            || "hi".to_string(),
            |r| format!("${{{{ jobs.j{r}.stages }}}}"),
        );
        let _ = write!(
            text,
            "      stages:\n        - name: s\n          echo: \"{echo}\"\n"
        );
    }
    text
}

#[test]
fn jobs_read_through_long_chains_of_needs() {
    // Each job reads the first one, hundreds of needs away, or the one before
    // the one before: all upstream.
    let far = chain(300, |i| (i > 0).then_some(0));
    assert!(found(&far).is_empty(), "{:?}", found(&far).first());
    let near = chain(300, |i| i.checked_sub(2));
    assert!(found(&near).is_empty());
    // Reading a later job is not upstream, near or far, and is reported at each.
    let later = chain(300, |i| {
        (i + 1 < 300).then_some(if i % 2 == 0 { i + 1 } else { 299 })
    });
    let codes: Vec<Code> = found(&later).iter().map(|f| f.code).collect();
    assert_eq!(codes.len(), 299, "{codes:?}");
    assert!(codes.iter().all(|c| *c == Code::JobNotUpstream));
}

#[test]
fn jobs_upstream_in_a_needs_cycle_are_still_answered() {
    let yaml = "wf:\n  type: Workflow\n  jobs:\n    a:\n      needs: [c]\n      stages:\n        - {name: s, echo: hi}\n    b:\n      needs: [a]\n      stages:\n        - {name: s, echo: hi}\n    c:\n      needs: [b]\n      stages:\n        - {name: s, echo: '${{ jobs.a.stages }}'}\n    d:\n      stages:\n        - {name: s, echo: '${{ jobs.a.stages }}'}\n";
    let codes: Vec<Code> = found(yaml).iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::NeedsCycle), "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == Code::JobNotUpstream).count(),
        1,
        "only `d` does not need `a`: {codes:?}"
    );
}

#[test]
fn thousands_of_mistakes_get_bounded_messages() {
    let n = 3_000;
    let mut text = String::from("wf:\n  type: Workflow\n  jobs:\n");
    for i in 0..n {
        let _ = write!(
            text,
            "    j{i}:\n      needs: [x{i}]\n      stages:\n        - {{name: s, id: s{i}, echo: '${{{{ stages.y{i}.outputs }}}}'}}\n"
        );
    }
    let (_, diagnostics) = check_files(&[("wf.yml", &text)]);
    assert_eq!(diagnostics.len(), 2 * n);
    for d in &diagnostics {
        let help = d.help.as_deref().unwrap_or_default();
        assert!(
            help.len() < 600,
            "{} bytes of help: {help:.200}",
            help.len()
        );
    }
    assert!(
        diagnostics.iter().any(|d| d
            .help
            .as_deref()
            .is_some_and(|h| h.contains("and 2980 more"))),
        "job lists are cut with a count"
    );
}
