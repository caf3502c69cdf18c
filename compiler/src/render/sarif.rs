//! SARIF 2.1.0, for code-scanning services.
//!
//! Every code is a rule, with its summary, its explanation as `help` (text and
//! Markdown) and, when a help URI template is set, a `helpUri`. Results carry
//! their secondary labels as `relatedLocations` and their fix, if any, as a SARIF
//! fix (`replacements` whose `deletedRegion` gives lines and columns and the byte
//! range, with the fix's applicability in its property bag). Columns count
//! Unicode code points (`columnKind`), as in every other format.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{file_name, help_uri, position};
use crate::diagnostic::{Code, Diagnostic, Fix, Severity};
use crate::source::Sources;
use crate::span::Span;

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
    help_uri_template: Option<&str>,
) -> io::Result<()> {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            let mut rule = json!({
                "id": c.id(),
                "name": c.name(),
                "shortDescription": {"text": c.summary()},
                "fullDescription": {"text": c.explanation()},
                "help": {
                    "text": c.explanation(),
                    "markdown": format!("**{} {}**: {}\n\n{}", c.id(), c.name(), c.summary(), c.explanation()),
                },
                "defaultConfiguration": {"level": level(c.severity())},
            });
            if let Some(template) = help_uri_template {
                rule["helpUri"] = Value::String(help_uri(template, *c));
            }
            rule
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str(". Help: ");
                text.push_str(help);
            }
            let mut result = json!({
                "ruleId": d.code.id(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code),
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [{"physicalLocation": physical(sources, d.span)}],
            });
            if !d.secondary.is_empty() {
                result["relatedLocations"] = d
                    .secondary
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        json!({
                            "id": i,
                            "physicalLocation": physical(sources, l.span),
                            "message": {"text": l.message},
                        })
                    })
                    .collect();
            }
            if let Some(fix) = &d.fix {
                result["fixes"] = json!([sarif_fix(sources, fix)]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "wfc",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &log).map_err(super::json_error)?;
    writeln!(out)
}

fn region(sources: &Sources, span: Span) -> Value {
    let p = position(sources, span);
    json!({
        "startLine": p.line,
        "startColumn": p.column,
        "endLine": p.end_line,
        "endColumn": p.end_column,
    })
}

fn physical(sources: &Sources, span: Span) -> Value {
    json!({
        "artifactLocation": {"uri": file_name(sources, span)},
        "region": region(sources, span),
    })
}

/// A SARIF fix: one artifact change per file, in the order files first appear.
fn sarif_fix(sources: &Sources, fix: &Fix) -> Value {
    let mut changes: Vec<(crate::span::FileId, Vec<Value>)> = Vec::new();
    for edit in &fix.edits {
        let mut deleted = region(sources, edit.span);
        deleted["byteOffset"] = json!(edit.span.start);
        deleted["byteLength"] = json!(edit.span.len());
        let replacement = json!({
            "deletedRegion": deleted,
            "insertedContent": {"text": edit.replacement},
        });
        match changes.iter_mut().find(|(f, _)| *f == edit.span.file) {
            Some((_, replacements)) => replacements.push(replacement),
            None => changes.push((edit.span.file, vec![replacement])),
        }
    }
    json!({
        "description": {"text": fix.message},
        "artifactChanges": changes
            .into_iter()
            .map(|(file, replacements)| json!({
                "artifactLocation": {"uri": file_name(sources, Span::point(file, 0))},
                "replacements": replacements,
            }))
            .collect::<Vec<_>>(),
        "properties": {"applicability": fix.applicability.as_str()},
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
