//! The JSON format: one object, nothing else on stdout.
//!
//! ```json
//! {"version": 1, "findings": [{
//!   "file": "conf/a.yml", "line": 6, "column": 21, "end_line": 6, "end_column": 25,
//!   "offset": 95, "end_offset": 99,
//!   "code": "WF101", "name": "unknown-key", "severity": "error",
//!   "message": "unknown key `ecoh`", "label": "not a key of an empty stage",
//!   "help": "did you mean `echo`?",
//!   "labels": [{"file": …, "line": …, …, "message": "…"}],
//!   "notes": ["…"],
//!   "fix": {"message": "replace `ecoh` with `echo`", "applicability": "safe",
//!           "edits": [{"file": …, "line": 6, "column": 21, "end_line": 6,
//!                      "end_column": 25, "offset": 95, "end_offset": 99,
//!                      "replacement": "echo"}]}
//! }]}
//! ```
//!
//! Lines and columns are 1-based, columns count characters, ends are exclusive
//! (the place just past the span); offsets are bytes from the start of the file.
//! `label`, `help` and `fix` are `null` when there is none; `labels` and `notes`
//! may be empty. Every key is always present.
//!
//! [`VERSION`] changes when a key is removed or changes meaning; new keys may be
//! added within a version. (Version 1 replaced the bare array of findings that
//! wfc printed before it was versioned.)

use std::io::{self, Write};

use serde::Serialize;

use super::{Position, file_name, position};
use crate::diagnostic::{Diagnostic, Fix};
use crate::source::Sources;
use crate::span::Span;

/// The version of the JSON output's shape.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    findings: Vec<Finding<'a>>,
}

/// A place in a file.
#[derive(Serialize)]
struct Place {
    file: String,
    #[serde(flatten)]
    at: Position,
}

impl Place {
    fn new(sources: &Sources, span: Span) -> Self {
        Self {
            file: file_name(sources, span),
            at: position(sources, span),
        }
    }
}

#[derive(Serialize)]
struct Finding<'a> {
    #[serde(flatten)]
    place: Place,
    code: &'static str,
    name: &'static str,
    severity: &'static str,
    message: &'a str,
    label: Option<&'a str>,
    help: Option<&'a str>,
    labels: Vec<Label<'a>>,
    notes: &'a [String],
    fix: Option<FixOut<'a>>,
}

#[derive(Serialize)]
struct Label<'a> {
    #[serde(flatten)]
    place: Place,
    message: &'a str,
}

#[derive(Serialize)]
struct FixOut<'a> {
    message: &'a str,
    applicability: &'static str,
    edits: Vec<EditOut<'a>>,
}

#[derive(Serialize)]
struct EditOut<'a> {
    #[serde(flatten)]
    place: Place,
    replacement: &'a str,
}

fn fix<'a>(sources: &Sources, fix: &'a Fix) -> FixOut<'a> {
    FixOut {
        message: &fix.message,
        applicability: fix.applicability.as_str(),
        edits: fix
            .edits
            .iter()
            .map(|e| EditOut {
                place: Place::new(sources, e.span),
                replacement: &e.replacement,
            })
            .collect(),
    }
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    let findings: Vec<Finding<'_>> = diagnostics
        .iter()
        .map(|d| Finding {
            place: Place::new(sources, d.span),
            code: d.code.id(),
            name: d.code.name(),
            severity: d.severity.as_str(),
            message: &d.message,
            label: Some(d.label.as_str()).filter(|l| !l.is_empty()),
            help: d.help.as_deref(),
            labels: d
                .secondary
                .iter()
                .map(|l| Label {
                    place: Place::new(sources, l.span),
                    message: &l.message,
                })
                .collect(),
            notes: &d.notes,
            fix: d.fix.as_ref().map(|f| fix(sources, f)),
        })
        .collect();
    let report = Report {
        version: VERSION,
        findings,
    };
    serde_json::to_writer_pretty(&mut *out, &report).map_err(super::json_error)?;
    writeln!(out)
}
