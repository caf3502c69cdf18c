//! The human format: ariadne reports with the source line, labels and advice.

use std::io::{self, Write};

use ariadne::{Config, IndexType, Label, Report, ReportKind};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Sources;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Always,
    Never,
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    color: Color,
) -> io::Result<()> {
    let config = Config::default()
        .with_color(color == Color::Always)
        .with_index_type(IndexType::Byte);
    let name = |file| sources.path(file).to_string_lossy().replace('\\', "/");
    // One cache for every report: ariadne indexes a file's lines when it makes
    // its source, and thousands of findings in one large file must not do that
    // thousands of times.
    let mut files: Vec<_> = diagnostics
        .iter()
        .flat_map(|d| std::iter::once(d.span.file).chain(d.secondary.iter().map(|l| l.span.file)))
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut cache = ariadne::sources(
        files
            .into_iter()
            .map(|f| (name(f), sources.get(f).text.as_str())),
    );
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let primary_color = match d.severity {
            Severity::Error => ariadne::Color::Red,
            Severity::Warning => ariadne::Color::Yellow,
        };
        let mut labels: Vec<(crate::span::Span, String, bool)> =
            vec![(d.span, d.label.clone(), true)];
        labels.extend(
            d.secondary
                .iter()
                .map(|l| (l.span, l.message.clone(), false)),
        );
        // One snippet per file reads best with labels in source order.
        labels.sort_by_key(|(s, _, _)| (s.file, s.start, s.end));
        let mut report = Report::build(kind, (name(d.span.file), d.span.range()))
            .with_config(config)
            .with_code(format!("{} {}", d.code.id(), d.code.name()))
            .with_message(&d.message);
        for (span, message, primary) in labels {
            let mut label = Label::new((name(span.file), span.range()));
            if !message.is_empty() {
                label = label.with_message(message);
            }
            label = label.with_color(if primary {
                primary_color
            } else {
                ariadne::Color::Blue
            });
            report = report.with_label(label);
        }
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        for note in &d.notes {
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
            "{} and {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )?;
    }
    Ok(())
}
