//! GitHub Actions workflow commands: one `::error` / `::warning` line per finding.

use std::io::{self, Write};

use super::{file_name, position};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Sources;

/// Escaping of a command's message.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a command's property values.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    for d in diagnostics {
        let p = position(sources, d.span);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        writeln!(
            out,
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            property(&file_name(sources, d.span)),
            p.line,
            p.column,
            p.end_line,
            p.end_column,
            property(&format!("{} {}", d.code.id(), d.code.name())),
            data(&message),
        )?;
    }
    Ok(())
}
