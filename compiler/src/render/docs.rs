//! `docs/codes.md`: every diagnostic code, made from the code table.

use std::fmt::Write as _;

use crate::diagnostic::Code;

/// The text of `docs/codes.md`: a table of every code, then one section per code
/// with its severity, summary and explanation, in the order of their ids. Each section has an anchor by its
/// lowercase id (`#wf101`) and one by its name (`#unknown-key`), for help links
/// (see [`super::Options::help_uri`]).
#[must_use]
pub fn codes_markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from the code table (compiler/src/diagnostic/code.rs); do not edit.\n     \
         To regenerate: WFC_BLESS=1 cargo test -p wfc-compiler --test check formats::codes_doc -->\n\n\
         # Diagnostic codes\n\n\
         Every finding of `wfc check` has a stable code: an id (`WF101`) and a name\n\
         (`unknown-key`), either of which `wfc check --explain` takes.\n\n\
         | Code | Name | Severity | Summary |\n\
         | --- | --- | --- | --- |\n",
    );
    let mut codes = Code::ALL.to_vec();
    codes.sort_by_key(|c| c.id());
    for c in &codes {
        let _ = writeln!(
            out,
            "| [{id}](#{anchor}) | `{name}` | {severity} | {summary} |",
            id = c.id(),
            anchor = c.id().to_ascii_lowercase(),
            name = c.name(),
            severity = c.severity().as_str(),
            summary = c.summary().replace('|', "\\|"),
        );
    }
    for c in &codes {
        let _ = write!(
            out,
            "\n<a id=\"{anchor}\"></a><a id=\"{name}\"></a>\n\n## {id} {name}\n\n\
             **Severity:** {severity}. {summary_cap}\n\n{explanation}\n",
            anchor = c.id().to_ascii_lowercase(),
            id = c.id(),
            name = c.name(),
            severity = c.severity().as_str(),
            summary_cap = sentence(c.summary()),
            explanation = c.explanation(),
        );
    }
    out
}

/// A summary as a sentence: capitalised, with a full stop.
fn sentence(summary: &str) -> String {
    let mut chars = summary.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
