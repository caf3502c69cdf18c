//! The JSON format: one array of findings, nothing else on stdout.

use std::io::{self, Write};

use serde::Serialize;

use super::{file_name, position};
use crate::diagnostic::Diagnostic;
use crate::source::Sources;

#[derive(Serialize)]
struct Finding<'a> {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    code: &'static str,
    severity: &'static str,
    message: &'a str,
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    let findings: Vec<Finding<'_>> = diagnostics
        .iter()
        .map(|d| {
            let p = position(sources, d.span);
            Finding {
                file: file_name(sources, d.span),
                line: p.line,
                column: p.column,
                end_line: p.end_line,
                end_column: p.end_column,
                code: d.code.id(),
                severity: d.severity.as_str(),
                message: &d.message,
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &findings).map_err(super::json_error)?;
    writeln!(out)
}
