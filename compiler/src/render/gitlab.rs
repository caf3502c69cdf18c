//! GitLab Code Quality: a JSON array of issues, as GitLab's
//! `artifacts:reports:codequality` reads it.
//!
//! Each finding is `{description, check_name, fingerprint, severity, location:
//! {path, lines: {begin, end}}}`. Errors are `major`, warnings `minor`. The
//! fingerprint, which GitLab uses to tell a new issue from one it has seen, is a
//! SHA-256 of the code, the path, the message and the text of the finding's first
//! line (trimmed), not of its line number, so that an edit elsewhere in the file
//! does not make the issue new; findings alike in all of these are told apart by
//! their order. Paths are as given on the command line, without a leading `./`:
//! GitLab wants them relative to the repository's root.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{file_name, position};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Sources;

#[derive(Serialize)]
struct Issue {
    description: String,
    check_name: String,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
    end: usize,
}

pub(super) fn write(
    out: &mut dyn Write,
    sources: &Sources,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let issues: Vec<Issue> = diagnostics
        .iter()
        .map(|d| {
            let p = position(sources, d.span);
            let mut path = file_name(sources, d.span);
            while let Some(rest) = path.strip_prefix("./") {
                path = rest.to_string();
            }
            let file = sources.get(d.span.file);
            let line_text = file
                .text
                .get(file.line_range(p.line - 1))
                .unwrap_or("")
                .trim();
            let mut hasher = Sha256::new();
            for part in [d.code.id(), &path, &d.message, line_text] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
            let key = hex(&hasher.clone().finalize());
            let occurrence = seen.entry(key).or_insert(0);
            if *occurrence > 0 {
                hasher.update(occurrence.to_string().as_bytes());
            }
            *occurrence += 1;
            Issue {
                description: format!("{} {}: {}", d.code.id(), d.code.name(), d.message),
                check_name: format!("{} {}", d.code.id(), d.code.name()),
                fingerprint: hex(&hasher.finalize()),
                severity: match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                },
                location: Location {
                    path,
                    lines: Lines {
                        begin: p.line,
                        end: p.end_line,
                    },
                },
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &issues).map_err(super::json_error)?;
    writeln!(out)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
