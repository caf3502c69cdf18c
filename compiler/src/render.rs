//! Diagnostics for people (`human`, via ariadne) and tools (`json`, `github`, `sarif`).
//! Renderers read data-only diagnostics; only `human` knows about ariadne.

mod github;
mod human;
mod json;
mod sarif;

use std::io::{self, Write};

use crate::diagnostic::Diagnostic;
use crate::source::Sources;
use crate::span::Span;

pub use human::Color;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

/// Writes `diagnostics` (already sorted) in `format`.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    color: Color,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(out, sources, diagnostics, color),
        Format::Json => json::write(out, sources, diagnostics),
        Format::Github => github::write(out, sources, diagnostics),
        Format::Sarif => sarif::write(out, sources, diagnostics),
    }
}

/// 1-based start and end line/column of a span, columns in characters.
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

pub(crate) fn position(sources: &Sources, span: Span) -> Position {
    let file = sources.get(span.file);
    let (line, column) = file.line_col(span.start);
    let (end_line, end_column) = file.line_col(span.end);
    Position {
        line,
        column,
        end_line,
        end_column,
    }
}

/// The file path as shown to users, with `/` separators.
pub(crate) fn file_name(sources: &Sources, span: Span) -> String {
    sources.path(span.file).to_string_lossy().replace('\\', "/")
}

/// A JSON writer's error as the I/O error it is (a closed pipe stays a closed pipe).
#[must_use]
pub fn json_error(error: serde_json::Error) -> io::Error {
    match error.io_error_kind() {
        Some(kind) => io::Error::new(kind, error),
        None => io::Error::other(error),
    }
}
