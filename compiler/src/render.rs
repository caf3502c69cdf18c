//! Diagnostics for people (`human`, via ariadne) and tools (`json`, `github`,
//! `sarif`, `junit`, `gitlab`). Renderers read data-only diagnostics; only `human`
//! knows about ariadne.

mod docs;
mod github;
mod gitlab;
mod human;
mod json;
mod junit;
mod sarif;

use std::io::{self, Write};

use crate::diagnostic::{Applicability, Code, Diagnostic};
use crate::source::Sources;
use crate::span::Span;

pub use docs::codes_markdown;
pub use human::Color;
pub use json::VERSION as JSON_VERSION;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
    Junit,
    Gitlab,
}

/// The environment variable read for [`Options::help_uri`] when it is `None`.
pub const HELP_URI_VAR: &str = "WFC_HELP_URI";

/// How findings are rendered, beyond the format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Colour in the human format.
    pub color: Color,
    /// Where a code is documented, as a template: `{code}` becomes the id
    /// (`WF101`), `{name}` the name (`unknown-key`), e.g.
    /// `https://git.example.com/wfc/-/blob/main/docs/codes.md#{name}` (each code
    /// in `docs/codes.md` has an anchor by its lowercase id and by its name).
    /// `None`: `$WFC_HELP_URI` if set, else no link. SARIF rules get it as
    /// `helpUri`.
    pub help_uri: Option<String>,
    /// Warnings fail the run (`--deny-warnings`): JUnit reports them as failures,
    /// as it does errors.
    pub deny_warnings: bool,
}

impl Options {
    /// The help URI template in force: the option's, else `$WFC_HELP_URI`'s.
    fn help_uri_template(&self) -> Option<String> {
        self.help_uri
            .clone()
            .or_else(|| std::env::var(HELP_URI_VAR).ok())
            .filter(|t| !t.trim().is_empty())
    }
}

/// A help URI template with `{code}` and `{name}` filled in for `code`.
#[must_use]
pub fn help_uri(template: &str, code: Code) -> String {
    template
        .replace("{code}", code.id())
        .replace("{name}", code.name())
}

/// Writes `diagnostics` (already sorted) in `format`.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    options: &Options,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(out, sources, diagnostics, options.color),
        Format::Json => json::write(out, sources, diagnostics),
        Format::Github => github::write(out, sources, diagnostics),
        Format::Sarif => sarif::write(
            out,
            sources,
            diagnostics,
            options.help_uri_template().as_deref(),
        ),
        Format::Junit => junit::write(out, sources, diagnostics, options.deny_warnings),
        Format::Gitlab => gitlab::write(out, sources, diagnostics),
    }
}

/// 1-based start and end line/column of a span, columns in characters, and
/// its byte offsets.
#[derive(serde::Serialize)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offset of the start in the file, from 0.
    pub offset: usize,
    /// Byte offset just past the end.
    pub end_offset: usize,
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
        offset: span.start as usize,
        end_offset: span.end as usize,
    }
}

/// The file path as shown to users, with `/` separators.
pub(crate) fn file_name(sources: &Sources, span: Span) -> String {
    shown_path(sources.path(span.file))
}

/// A path as findings show it, with `/` separators.
#[must_use]
pub fn shown_path(path: &std::path::Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// How many findings have a safe fix, and how many only an unsafe one.
pub(crate) fn fixable(diagnostics: &[Diagnostic]) -> (usize, usize) {
    diagnostics
        .iter()
        .filter_map(|d| d.fix.as_ref())
        .fold((0, 0), |(safe, not), fix| match fix.applicability {
            Applicability::Safe => (safe + 1, not),
            Applicability::Unsafe => (safe, not + 1),
        })
}

/// A JSON writer's error as the I/O error it is (a closed pipe stays a closed pipe).
#[must_use]
pub fn json_error(error: serde_json::Error) -> io::Error {
    match error.io_error_kind() {
        Some(kind) => io::Error::new(kind, error),
        None => io::Error::other(error),
    }
}
