//! JUnit XML, as CI services (GitLab, Jenkins, Azure) read test reports.
//!
//! One `<testsuite>` per loaded file (named by its path). A file with findings has
//! one `<testcase>` per finding, named `CODE name: message` (without the line, so
//! that a finding keeps its name when lines above it move; the place is in the
//! `file` and `line` attributes and in the text); a file without findings has one
//! passing testcase, `no findings`, so a clean run shows as passing tests. An
//! error is a `<failure>`; a warning is a passing testcase whose text is in
//! `<system-out>`, as warnings alone do not fail `wfc check`, unless warnings are
//! denied (`--deny-warnings`), when it is a `<failure>` too.
//!
//! Text is escaped for XML 1.0: markup characters as entities, line breaks in
//! attributes as character references, and the control characters XML cannot
//! carry at all as their Unicode pictures (`␛`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{file_name, position};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Sources;
use crate::span::{FileId, Span};

/// Text for XML 1.0 character data or (with `attribute`) a quoted attribute.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\0'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'));
            }
            '\u{7f}' => out.push('\u{2421}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            _ => out.push(c),
        }
    }
    out
}

/// The finding as text: its place, severity, code, message and advice.
fn details(sources: &Sources, d: &Diagnostic) -> String {
    let p = position(sources, d.span);
    let mut text = format!(
        "{}:{}:{}: {} {} {}: {}",
        file_name(sources, d.span),
        p.line,
        p.column,
        d.severity.as_str(),
        d.code.id(),
        d.code.name(),
        d.message
    );
    for label in &d.secondary {
        let l = position(sources, label.span);
        let _ = write!(
            text,
            "\n{}:{}:{}: {}",
            file_name(sources, label.span),
            l.line,
            l.column,
            label.message
        );
    }
    if let Some(help) = &d.help {
        let _ = write!(text, "\nhelp: {help}");
    }
    for note in &d.notes {
        let _ = write!(text, "\nnote: {note}");
    }
    if let Some(fix) = &d.fix {
        let _ = write!(
            text,
            "\nfix ({}): {}",
            fix.applicability.as_str(),
            fix.message
        );
    }
    text
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    deny_warnings: bool,
) -> io::Result<()> {
    let fails = |d: &Diagnostic| d.severity == Severity::Error || deny_warnings;
    // Every loaded file, with its findings (in the order given).
    let mut files: BTreeMap<FileId, Vec<&Diagnostic>> =
        sources.iter().map(|(id, _)| (id, Vec::new())).collect();
    for d in diagnostics {
        files.entry(d.span.file).or_default().push(d);
    }
    let tests: usize = files.values().map(|f| f.len().max(1)).sum();
    let failures = diagnostics.iter().filter(|d| fails(d)).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"wfc check\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        tests.max(1)
    );
    if files.is_empty() {
        xml.push_str("  <testsuite name=\"wfc check\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n    <testcase name=\"no findings\" classname=\"wfc check\"/>\n  </testsuite>\n");
    }
    for (file, found) in &files {
        let path = escape(&file_name(sources, Span::point(*file, 0)), true);
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            found.len().max(1),
            found.iter().filter(|d| fails(d)).count()
        );
        if found.is_empty() {
            let _ = writeln!(
                xml,
                "    <testcase name=\"no findings\" classname=\"{path}\" file=\"{path}\"/>"
            );
        }
        for d in found {
            let line = position(sources, d.span).line;
            let _ = writeln!(
                xml,
                "    <testcase name=\"{}\" classname=\"{path}\" file=\"{path}\" line=\"{line}\">",
                escape(
                    &format!("{} {}: {}", d.code.id(), d.code.name(), d.message),
                    true
                ),
            );
            let text = escape(&details(sources, d), false);
            if fails(d) {
                let _ = writeln!(
                    xml,
                    "      <failure type=\"{} {}\" message=\"{}\">{text}</failure>",
                    d.code.id(),
                    d.code.name(),
                    escape(&d.message, true)
                );
            } else {
                let _ = writeln!(xml, "      <system-out>{text}</system-out>");
            }
            xml.push_str("    </testcase>\n");
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    out.write_all(xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(
            escape("a<b>&\"c\"\n'\u{1b}\r", true),
            "a&lt;b&gt;&amp;&quot;c&quot;&#10;&apos;\u{241b}&#13;"
        );
        assert_eq!(escape("]]>\n\t\u{0}", false), "]]&gt;\n\t\u{2400}");
    }
}
