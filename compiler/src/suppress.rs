//! Inline suppressions: `# wfc: ignore[WF901]` at the end of a line or alone on
//! the line above, `# wfc: ignore-file[WF404]` for a whole file; and the policy
//! that decides which findings are shown (configuration, then suppressions).

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::diagnostic::{Applicability, Code, Diagnostic, Edit, Fix};
use crate::source::{SourceFile, Sources};
use crate::span::{FileId, Span};
use crate::syntax::yaml::{Node, NodeKind};

/// One suppression comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// From `#` to the end of the comment.
    pub comment: Span,
    /// What removing the whole comment takes: the comment and the blanks before
    /// it, or its whole line when it stands alone.
    pub removal: Span,
    /// The 0-based line it covers (unused when `file_wide`).
    pub line: u32,
    pub file_wide: bool,
    /// Each code as written.
    pub codes: Vec<(Code, Span)>,
}

impl Suppression {
    /// Moves every span to `file` (suppressions read back from the cache).
    pub fn set_file(&mut self, file: FileId) {
        self.comment.file = file;
        self.removal.file = file;
        for (_, span) in &mut self.codes {
            span.file = file;
        }
    }
}

/// The comments of a file that suppress, and the findings about comments that
/// try to and cannot ([`Code::InvalidSuppression`]). `root` is the file's YAML,
/// whose scalars (a `#` inside a string or a block of script is not a comment)
/// are skipped; without it (the file does not parse) nothing is suppressed.
#[must_use]
pub fn scan(
    file: FileId,
    source: &SourceFile,
    root: Option<&Node>,
) -> (Vec<Suppression>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let text = source.text.as_str();
    let Some(root) = root else {
        return (found, problems);
    };
    if !text.contains("wfc:") {
        return (found, problems);
    }
    let mut scalars = Vec::new();
    collect_scalars(root, &mut scalars);
    scalars.sort_unstable();
    let inside_scalar = |offset: usize| {
        let at = scalars.partition_point(|&(start, _)| start <= offset);
        // Scalars do not overlap: only the last one starting before can hold it.
        scalars[..at].last().is_some_and(|&(_, end)| offset < end)
    };
    let lines = source.line_starts().len();
    for line in 0..lines {
        let range = source.line_range(line);
        let content = &text[range.clone()];
        let Some(at) = comment_start(content, range.start, &inside_scalar) else {
            continue;
        };
        let comment = &content[at - range.start..];
        let Some(parsed) = parse(comment, at) else {
            continue;
        };
        let comment_span = Span::new(file, at, range.end);
        let own_line = content[..at - range.start].trim().is_empty();
        let removal = if own_line {
            let next = source.line_range(line + 1).start;
            let end = if next > range.end { next } else { range.end };
            Span::new(file, range.start, end)
        } else {
            let before = content[..at - range.start].trim_end().len();
            Span::new(file, range.start + before, range.end)
        };
        let mut codes = Vec::new();
        let mut bad = Vec::new();
        for (written, start) in &parsed.codes {
            let span = Span::new(file, *start, start + written.len());
            match Code::lookup(written) {
                Some(code) => codes.push((code, span)),
                None => bad.push((written.clone(), span)),
            }
        }
        for (written, span) in bad {
            let names = Code::ALL.iter().flat_map(|c| [c.id(), c.name()]);
            problems.push(
                Diagnostic::new(
                    Code::InvalidSuppression,
                    span,
                    format!("`{written}` is no code, so this suppresses nothing"),
                )
                .label("not a code")
                .did_you_mean_or(&written, names, || {
                    Some("`wfc check --explain x` lists the codes".into())
                }),
            );
        }
        if let Some(problem) = parsed.problem {
            problems.push(
                Diagnostic::new(Code::InvalidSuppression, comment_span, problem)
                    .label("suppresses nothing")
                    .help(
                        "write `# wfc: ignore[WF101]` (codes by id or name, separated by commas)",
                    ),
            );
            continue;
        }
        if codes.is_empty() {
            continue;
        }
        let target = if own_line && !parsed.file_wide {
            // The next line that is neither blank nor a comment.
            (line + 1..lines)
                .find(|&l| {
                    let t = text[source.line_range(l)].trim_start();
                    !t.is_empty() && !t.starts_with('#')
                })
                .unwrap_or(line)
        } else {
            line
        };
        found.push(Suppression {
            comment: comment_span,
            removal,
            line: u32::try_from(target).unwrap_or(u32::MAX),
            file_wide: parsed.file_wide,
            codes,
        });
    }
    (found, problems)
}

/// The bytes each scalar's text takes (the parser ends a quoted one at its
/// closing quote).
fn collect_scalars(node: &Node, out: &mut Vec<(usize, usize)>) {
    let range = |span: Span| (span.start as usize, span.end as usize);
    match &node.kind {
        NodeKind::Str(_) => out.push(range(node.span)),
        NodeKind::Seq(items) => items.iter().for_each(|n| collect_scalars(n, out)),
        NodeKind::Map(entries) => {
            for entry in entries {
                out.push(range(entry.key.span));
                collect_scalars(&entry.value, out);
            }
        }
        _ => {}
    }
}

/// Where a YAML comment starts on a line: a `#` at the start or after a blank,
/// outside every scalar.
fn comment_start(
    content: &str,
    line_start: usize,
    inside_scalar: &impl Fn(usize) -> bool,
) -> Option<usize> {
    let bytes = content.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        let starts = b == b'#' && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t'));
        (starts && !inside_scalar(line_start + i)).then_some(line_start + i)
    })
}

struct Parsed {
    file_wide: bool,
    /// Each code as written, with its byte offset in the file.
    codes: Vec<(String, usize)>,
    problem: Option<String>,
}

/// Reads `# wfc: ignore[…]` / `# wfc: ignore-file[…]` (`at`: the offset of `#`);
/// `None` when the comment is not meant as a suppression.
fn parse(comment: &str, at: usize) -> Option<Parsed> {
    let body = comment.strip_prefix('#')?;
    let trimmed = body.trim_start();
    let rest = trimmed.strip_prefix("wfc:")?.trim_start();
    let (file_wide, rest) = if let Some(rest) = rest.strip_prefix("ignore-file") {
        (true, rest)
    } else if let Some(rest) = rest.strip_prefix("ignore") {
        (false, rest)
    } else {
        return None;
    };
    let mut parsed = Parsed {
        file_wide,
        codes: Vec::new(),
        problem: None,
    };
    let Some(inner) = rest.strip_prefix('[') else {
        parsed.problem =
            Some("a suppression names its codes in brackets, so this suppresses nothing".into());
        return Some(parsed);
    };
    let Some(close) = inner.find(']') else {
        parsed.problem = Some("the list of codes has no closing `]`".into());
        return Some(parsed);
    };
    let list_start = at + (comment.len() - inner.len());
    let mut offset = 0;
    for part in inner[..close].split(',') {
        let lead = part.len() - part.trim_start().len();
        let word = part.trim();
        if !word.is_empty() {
            parsed
                .codes
                .push((word.to_string(), list_start + offset + lead));
        }
        offset += part.len() + 1;
    }
    if parsed.codes.is_empty() {
        parsed.problem = Some("the suppression names no code, so it suppresses nothing".into());
    }
    Some(parsed)
}

/// What to do with findings before they are shown.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy<'a> {
    pub config: Option<&'a Config>,
    /// `--no-suppress`: comments suppress nothing (and none is unused).
    pub no_suppress: bool,
}

/// The findings to show: those the configuration enables, less those a comment
/// suppresses, plus a [`Code::UnusedSuppression`] for each code of a comment
/// that suppressed nothing; severities as configured. Sorted as given.
#[must_use]
pub fn apply(
    policy: Policy<'_>,
    sources: &Sources,
    suppressions: &[Vec<Suppression>],
    diagnostics: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let mut by_file: Vec<Vec<Diagnostic>> = vec![Vec::new(); sources.len()];
    let mut kept = Vec::new();
    for d in diagnostics {
        match by_file.get_mut(d.span.file.0 as usize) {
            Some(list) => list.push(d),
            None => kept.push(d),
        }
    }
    for (index, list) in by_file.into_iter().enumerate() {
        let comments = suppressions.get(index).map_or(&[][..], Vec::as_slice);
        if list.is_empty() && comments.is_empty() {
            continue;
        }
        let file = crate::project::file_id(index);
        kept.extend(apply_file(policy, sources.get(file), comments, list));
    }
    kept.sort_by(|a, b| {
        (a.span.file, a.span.start, a.span.end, a.code).cmp(&(
            b.span.file,
            b.span.start,
            b.span.end,
            b.code,
        ))
    });
    kept
}

/// [`apply`] for one file's findings (`source`: the file, `comments`: its
/// suppressions), in the order given.
#[must_use]
pub fn apply_file(
    policy: Policy<'_>,
    source: &SourceFile,
    comments: &[Suppression],
    diagnostics: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let default = Config::default();
    let config = policy.config.unwrap_or(&default);
    let rules = config.for_file(&source.path);
    let mut used: Vec<Vec<bool>> = comments
        .iter()
        .map(|s| vec![false; s.codes.len()])
        .collect();
    let mut kept = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        if !rules.enabled(d.code) {
            continue;
        }
        if !policy.no_suppress
            && !crate::config::ALWAYS_ON.contains(&d.code)
            && suppressed(source, comments, &mut used, &d)
        {
            continue;
        }
        kept.push(d);
    }
    if !policy.no_suppress {
        for (index, suppression) in comments.iter().enumerate() {
            for (at, &(code, span)) in suppression.codes.iter().enumerate() {
                // A code the configuration turns off cannot be judged here.
                if used[index][at] || !rules.enabled(code) {
                    continue;
                }
                if rules.enabled(Code::UnusedSuppression) {
                    kept.push(unused(&source.text, suppression, at, code, span));
                }
            }
        }
    }
    for d in &mut kept {
        d.severity = config.severity_of(d.code);
    }
    kept
}

/// Whether a comment suppresses `d` (and marks the code used).
fn suppressed(
    source: &SourceFile,
    comments: &[Suppression],
    used: &mut [Vec<bool>],
    d: &Diagnostic,
) -> bool {
    if comments.is_empty() {
        return false;
    }
    let line = source.line_index(d.span.start as usize);
    let mut hit = false;
    for (index, s) in comments.iter().enumerate() {
        if !s.file_wide && s.line as usize != line {
            continue;
        }
        for (at, (code, _)) in s.codes.iter().enumerate() {
            if *code == d.code {
                used[index][at] = true;
                hit = true;
            }
        }
    }
    hit
}

/// The finding for one code of a comment that suppressed nothing, with the fix
/// that removes the code (or the comment, when it is the only one).
fn unused(text: &str, s: &Suppression, at: usize, code: Code, span: Span) -> Diagnostic {
    let (edit_span, what) = if s.codes.len() == 1 {
        (s.removal, "remove the comment")
    } else if at + 1 < s.codes.len() {
        (
            Span::new(
                span.file,
                span.start as usize,
                s.codes[at + 1].1.start as usize,
            ),
            "remove the code",
        )
    } else {
        let previous = s.codes[at - 1].1;
        (
            Span::new(span.file, previous.end as usize, span.end as usize),
            "remove the code",
        )
    };
    let expected = text.get(edit_span.range()).map(str::to_string);
    let place = if s.file_wide {
        "in this file".to_string()
    } else {
        format!("on line {}", s.line + 1)
    };
    Diagnostic::new(
        Code::UnusedSuppression,
        span,
        format!(
            "`{}` ({}) is suppressed here, but there is no such finding {place}",
            code.id(),
            code.name()
        ),
    )
    .label("suppresses nothing")
    .help(format!(
        "{what}; `wfc check --no-suppress` shows what comments hide"
    ))
    .with_fix(Fix {
        message: what.to_string(),
        applicability: Applicability::Safe,
        edits: vec![Edit {
            span: edit_span,
            replacement: String::new(),
            expected,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::yaml;

    fn scan_text(text: &str) -> (Vec<Suppression>, Vec<Diagnostic>) {
        let source = SourceFile::new("a.yml".into(), text.to_string());
        let root = yaml::parse(FileId(0), &source).ok();
        scan(FileId(0), &source, root.as_ref())
    }

    #[test]
    fn end_of_line_and_line_above() {
        let (found, problems) = scan_text(
            "a: 1 # wfc: ignore[WF901, unknown-key]\n# wfc: ignore[WF404]\n\n# other\nb: 2\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].line, 0);
        assert_eq!(
            found[0].codes.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![Code::TemplateInScript, Code::UnknownKey]
        );
        assert_eq!(
            found[1].line, 4,
            "the next line that is not blank or a comment"
        );
    }

    #[test]
    fn a_hash_inside_a_string_or_script_is_not_a_comment() {
        let (found, _) = scan_text(
            "a: \"x # wfc: ignore[WF901]\"\nb: |\n  echo hi # wfc: ignore[WF901]\n  # wfc: ignore[WF901]\nc: 3\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn codes_that_do_not_exist_and_empty_lists_are_reported() {
        let (found, problems) =
            scan_text("a: 1 # wfc: ignore[WF999]\nb: 2 # wfc: ignore\nc: 3 # wfc: ignore[]\n");
        assert!(found.is_empty());
        let codes: Vec<Code> = problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::InvalidSuppression; 3]);
        assert!(
            problems[0].message.contains("`WF999`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn a_comment_after_a_quoted_value_is_a_comment() {
        let (found, _) = scan_text(
            "a:\n  - x: \"hi \\\" # no\"   # wfc: ignore[WF404]\n  - y: 'it''s # no'  # wfc: ignore[WF901]\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].line, 1);
        assert_eq!(found[1].line, 2);
    }

    #[test]
    fn file_wide() {
        let (found, _) = scan_text("# wfc: ignore-file[WF404]\na: 1\n");
        assert!(found[0].file_wide);
    }

    #[test]
    fn other_comments_are_left_alone() {
        let (found, problems) =
            scan_text("a: 1 # wfc: this is about wfc\nb: 2 # see wfc: ignore[x]\n");
        assert!(
            found.is_empty() && problems.is_empty(),
            "{found:?} {problems:?}"
        );
    }
}
