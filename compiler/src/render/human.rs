//! The human format: ariadne reports with the source line, labels and advice.
//!
//! Any file can be shown, whatever its bytes: ariadne gets a view of each file in
//! which every character that would break the picture is replaced by one visible
//! character (so that columns stay right): control characters become their control
//! pictures (`␀`, `␛`), and the line separators YAML does not break lines at
//! (U+2028, form feed...) and bidirectional overrides become `�`. Spans are given
//! to ariadne in characters of that view. A label on a line too long to show is
//! given as a note with its place instead of a snippet, so a file of one huge line
//! does not print that line once per finding.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};

use ariadne::{Config, IndexType, Label, Report, ReportKind};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceFile, Sources};
use crate::span::{FileId, Span};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Color {
    Always,
    #[default]
    Never,
}

/// The longest line (in bytes) shown in a snippet.
const MAX_SHOWN_LINE: usize = 1024;

/// What ariadne is shown of one file.
struct View<'a> {
    source: &'a SourceFile,
    /// The text with every character that would break the picture replaced.
    text: Cow<'a, str>,
    /// The character offset at which each line starts.
    line_chars: Vec<usize>,
}

impl<'a> View<'a> {
    fn new(source: &'a SourceFile) -> Self {
        let text = if source.text.chars().any(|c| shown(c) != c) {
            Cow::Owned(source.text.chars().map(shown).collect())
        } else {
            Cow::Borrowed(source.text.as_str())
        };
        let starts = source.line_starts();
        let mut line_chars = Vec::with_capacity(starts.len());
        let mut chars = 0;
        let mut previous = 0;
        for &start in starts {
            let start = start as usize;
            chars += source.text[previous..start].chars().count();
            line_chars.push(chars);
            previous = start;
        }
        Self {
            source,
            text,
            line_chars,
        }
    }

    /// A span of the file as a character range of the view (clamped to the text,
    /// widened to whole characters).
    fn chars(&self, span: Span) -> std::ops::Range<usize> {
        let start = self.source.floor_boundary(span.start as usize);
        let end = self.source.ceil_boundary(span.end as usize).max(start);
        self.char_at(start)..self.char_at(end)
    }

    fn char_at(&self, offset: usize) -> usize {
        let line = self.source.line_index(offset);
        let start = self.source.line_starts()[line] as usize;
        self.line_chars[line] + self.source.text[start..offset].chars().count()
    }

    /// Are the lines ariadne would print for this span short enough to show?
    fn fits(&self, span: Span) -> bool {
        let first = self.source.line_index(span.start as usize);
        let last = self.source.line_index(span.end as usize);
        [first, (first + 1).min(last), last]
            .iter()
            .all(|&line| self.source.line_range(line).len() <= MAX_SHOWN_LINE)
    }
}

/// The character shown for `c`: itself, or a visible stand-in for a character that
/// would move the cursor, break a line YAML does not break, or reorder the text.
fn shown(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        '\0'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'),
        '\u{7f}' => '\u{2421}',
        '\u{80}'..='\u{9f}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => '\u{FFFD}',
        _ => c,
    }
}

/// Text for the terminal: what [`shown`] does to sources, with line breaks kept
/// only where `lines` allows them.
fn clean(text: &str, lines: bool) -> Cow<'_, str> {
    let keep =
        |c: char| (lines && c == '\n') || (c != '\t' && c != '\n' && c != '\r' && shown(c) == c);
    if text.chars().all(keep) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if keep(c) {
                        c
                    } else if c == '\t' {
                        ' '
                    } else {
                        shown_strict(c)
                    }
                })
                .collect(),
        )
    }
}

/// [`shown`], also for the line breaks a one-line text must not have.
fn shown_strict(c: char) -> char {
    match c {
        '\n' => '\u{2424}',
        '\r' => '\u{240d}',
        _ => shown(c),
    }
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    color: Color,
) -> io::Result<()> {
    let config = Config::default()
        .with_color(color == Color::Always)
        .with_index_type(IndexType::Char);
    let name = |file| clean(&super::file_name(sources, Span::point(file, 0)), false).into_owned();
    // Every file a finding points into, viewed once, and one ariadne cache for
    // every report: ariadne indexes a file's lines when it makes its source, and
    // thousands of findings in one large file must not do that thousands of times.
    let mut views: HashMap<FileId, View<'_>> = HashMap::new();
    for d in diagnostics {
        for file in std::iter::once(d.span.file).chain(d.secondary.iter().map(|l| l.span.file)) {
            views
                .entry(file)
                .or_insert_with(|| View::new(sources.get(file)));
        }
    }
    let mut cache = ariadne::sources(views.iter().map(|(f, view)| (name(*f), view.text.as_ref())));
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let primary_color = match d.severity {
            Severity::Error => ariadne::Color::Red,
            Severity::Warning => ariadne::Color::Yellow,
        };
        let mut labels: Vec<(Span, &str, bool)> = vec![(d.span, d.label.as_str(), true)];
        labels.extend(
            d.secondary
                .iter()
                .map(|l| (l.span, l.message.as_str(), false)),
        );
        // One snippet per file reads best with labels in source order.
        labels.sort_by_key(|(s, _, _)| (s.file, s.start, s.end));
        let (shown, hidden): (Vec<_>, Vec<_>) = labels
            .into_iter()
            .partition(|(span, _, _)| views[&span.file].fits(*span));
        let hidden: Vec<String> = hidden
            .into_iter()
            .map(|(span, message, _)| {
                let source = sources.get(span.file);
                let (line, column) = source.line_col(span.start);
                let what = if message.is_empty() { "here" } else { message };
                format!(
                    "{}:{line}:{column}: {} (line {line} is {} bytes long, too long to show)",
                    name(span.file),
                    clean(what, false),
                    source.line_range(line - 1).len()
                )
            })
            .collect();
        if shown.is_empty() {
            write_plain(out, d, &name(d.span.file), sources, &hidden, color)?;
            continue;
        }
        let primary = views[&d.span.file].chars(d.span);
        let mut report = Report::build(kind, (name(d.span.file), primary))
            .with_config(config)
            .with_code(format!("{} {}", d.code.id(), d.code.name()))
            .with_message(clean(&d.message, false));
        for (span, message, is_primary) in shown {
            let mut label = Label::new((name(span.file), views[&span.file].chars(span)));
            if !message.is_empty() {
                label = label.with_message(clean(message, false));
            }
            label = label.with_color(if is_primary {
                primary_color
            } else {
                ariadne::Color::Blue
            });
            report = report.with_label(label);
        }
        if let Some(help) = &d.help {
            report = report.with_help(clean(help, true));
        }
        for note in d
            .notes
            .iter()
            .map(|n| clean(n, true))
            .chain(hidden.into_iter().map(Cow::Owned))
        {
            report = report.with_note(note);
        }
        report.finish().write(&mut cache, &mut *out)?;
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        writeln!(
            out,
            "{} and {}{}",
            plural(errors, "error"),
            plural(warnings, "warning"),
            fixable_note(diagnostics)
        )?;
    }
    Ok(())
}

/// What the summary line says of fixes: how many findings `wfc check --fix`
/// fixes, and how many more `--unsafe-fixes` would (nothing when none has a fix).
fn fixable_note(diagnostics: &[Diagnostic]) -> String {
    match super::fixable(diagnostics) {
        (0, 0) => String::new(),
        (0, not) => format!(", {not} fixable with `wfc check --fix --unsafe-fixes`"),
        (safe, 0) => format!(", {safe} fixable with `wfc check --fix`"),
        (safe, not) => {
            format!(", {safe} fixable with `wfc check --fix` ({not} more with `--unsafe-fixes`)")
        }
    }
}

/// A finding none of whose lines can be shown, in the shape of ariadne's reports.
fn write_plain(
    out: &mut dyn Write,
    d: &Diagnostic,
    file: &str,
    sources: &Sources,
    places: &[String],
    color: Color,
) -> io::Result<()> {
    let (kind, ansi) = match d.severity {
        Severity::Error => ("Error", "\x1b[31m"),
        Severity::Warning => ("Warning", "\x1b[33m"),
    };
    let kind = if color == Color::Always {
        format!("{ansi}{kind}:\x1b[0m")
    } else {
        format!("{kind}:")
    };
    writeln!(
        out,
        "[{} {}] {kind} {}",
        d.code.id(),
        d.code.name(),
        clean(&d.message, false)
    )?;
    let (line, column) = sources.get(d.span.file).line_col(d.span.start);
    writeln!(out, "   \u{256d}\u{2500}[ {file}:{line}:{column} ]")?;
    writeln!(out, "   \u{2502}")?;
    for place in places {
        writeln!(out, "   \u{2502} {place}")?;
    }
    let lines = |text: &str| {
        text.lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join("\n   \u{2502}       ")
    };
    if let Some(help) = &d.help {
        writeln!(
            out,
            "   \u{2502}\n   \u{2502} Help: {}",
            lines(&clean(help, true))
        )?;
    }
    for note in &d.notes {
        writeln!(
            out,
            "   \u{2502}\n   \u{2502} Note: {}",
            lines(&clean(note, true))
        )?;
    }
    writeln!(out, "\u{2500}\u{2500}\u{2500}\u{256f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_keeps_lengths_and_yaml_line_breaks() {
        let text = "a\u{0}b\r\nc\u{2028}d\u{1b}[2J\re\u{202e}f\u{85}";
        let source = SourceFile::new("t.yml".into(), text.into());
        let view = View::new(&source);
        assert_eq!(view.text.chars().count(), text.chars().count());
        assert_eq!(
            view.text,
            "a\u{2400}b\r\nc\u{FFFD}d\u{241b}[2J\re\u{FFFD}f\u{FFFD}"
        );
        // `e` is the first character of the third line.
        let e = text.find('e').unwrap();
        assert_eq!(view.chars(Span::new(FileId(0), e, e + 1)), 13..14);
        assert_eq!(source.line_col(u32::try_from(e).unwrap()), (3, 1));
    }

    #[test]
    fn the_summary_counts_safe_and_unsafe_fixes() {
        use crate::diagnostic::{Applicability, Code, Fix};
        let span = Span::new(FileId(0), 0, 4);
        let with = |applicability| {
            Diagnostic::new(Code::UnknownKey, span, "unknown key").with_fix(Fix::rename(
                span,
                "ecoh",
                "echo",
                applicability,
            ))
        };
        let plain = Diagnostic::new(Code::UnknownKey, span, "unknown key");
        let safe = with(Applicability::Safe);
        let unsafe_ = with(Applicability::Unsafe);
        assert_eq!(fixable_note(std::slice::from_ref(&plain)), "");
        assert_eq!(
            fixable_note(&[safe.clone(), plain.clone(), safe.clone()]),
            ", 2 fixable with `wfc check --fix`"
        );
        assert_eq!(
            fixable_note(&[unsafe_.clone(), plain]),
            ", 1 fixable with `wfc check --fix --unsafe-fixes`"
        );
        assert_eq!(
            fixable_note(&[safe, unsafe_]),
            ", 1 fixable with `wfc check --fix` (1 more with `--unsafe-fixes`)"
        );
    }

    #[test]
    fn messages_lose_control_characters() {
        assert_eq!(
            clean("key `\u{1b}[2J`\nx", false),
            "key `\u{241b}[2J`\u{2424}x"
        );
        assert_eq!(clean("a\nb", true), "a\nb");
        assert_eq!(clean("plain", false), Cow::Borrowed("plain"));
    }
}
