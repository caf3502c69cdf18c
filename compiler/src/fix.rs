//! Applying fixes (`wfc check --fix`, `--diff`): a fix is applied only when the
//! file still parses afterwards, its finding is gone and no finding is added.
//!
//! Each round applies every fix that does not overlap an earlier one, then
//! checks the result. When the round's result is refused, its fixes are tried
//! one by one, and each one that is refused on its own is left out with why.
//! The text outside the edited spans is never touched, byte for byte.

use std::collections::HashMap;

use crate::diagnostic::{Applicability, Code, Diagnostic, Edit, Fix};

/// Rounds before fixing stops (a fix may make another one possible).
const MAX_ROUNDS: usize = 32;

/// A fix that was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub code: Code,
    /// 1-based line of the finding, in the text the fix was applied to.
    pub line: usize,
    pub fix: String,
}

/// A fix that was not applied, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: Code,
    pub line: usize,
    pub fix: String,
    pub reason: String,
}

/// What fixing one file came to.
#[derive(Debug, Default)]
pub struct Outcome {
    pub text: String,
    pub applied: Vec<Applied>,
    pub refused: Vec<Refused>,
}

impl Outcome {
    #[must_use]
    pub fn changed(&self, original: &str) -> bool {
        self.text != original
    }
}

/// Whether `fix` may be applied under `--unsafe-fixes` or not.
#[must_use]
pub fn allowed(fix: &Fix, unsafe_fixes: bool) -> bool {
    unsafe_fixes || fix.applicability == Applicability::Safe
}

/// Applies the fixes of `text`'s findings. `check` gives the findings of a
/// text (as they are shown: configured and suppressed), in that text's spans.
pub fn fix_text(
    text: &str,
    unsafe_fixes: bool,
    check: &mut dyn FnMut(&str) -> Vec<Diagnostic>,
) -> Outcome {
    let mut outcome = Outcome {
        text: text.to_string(),
        ..Outcome::default()
    };
    let mut left_out: Vec<(Code, String, String)> = Vec::new();
    let mut findings = check(&outcome.text);
    for _ in 0..MAX_ROUNDS {
        let mut candidates: Vec<&Diagnostic> = findings
            .iter()
            .filter(|d| {
                d.fix.as_ref().is_some_and(|f| {
                    allowed(f, unsafe_fixes)
                        && !f.edits.is_empty()
                        && f.holds(&outcome.text)
                        && !left_out.contains(&key(d, f))
                })
            })
            .collect();
        if candidates.is_empty() {
            break;
        }
        candidates.sort_by_key(|d| first_edit(d));
        let chosen = not_overlapping(&candidates);
        let together = apply(&outcome.text, &chosen);
        let after = check(&together);
        if judge(&findings, &after, &chosen).is_ok() {
            record(&mut outcome.applied, &outcome.text, &chosen);
            outcome.text = together;
            findings = after;
            continue;
        }
        // One by one: the first that holds on its own is kept, and the round
        // starts again from the new text (the others' spans moved).
        for &d in &chosen {
            let one = [d];
            let alone = apply(&outcome.text, &one);
            let after = check(&alone);
            match judge(&findings, &after, &one) {
                Ok(()) => {
                    record(&mut outcome.applied, &outcome.text, &one);
                    outcome.text = alone;
                    findings = after;
                    break;
                }
                Err(reason) => {
                    let fix = d
                        .fix
                        .as_ref()
                        .map(|f| f.message.clone())
                        .unwrap_or_default();
                    if let Some(f) = &d.fix {
                        left_out.push(key(d, f));
                    }
                    outcome.refused.push(Refused {
                        code: d.code,
                        line: line_of(&outcome.text, d.span.start as usize),
                        fix,
                        reason,
                    });
                }
            }
        }
        // Without progress, every fix of the round is left out: the next
        // round has fewer candidates, so the rounds end.
    }
    outcome
}

fn key(d: &Diagnostic, f: &Fix) -> (Code, String, String) {
    (d.code, d.message.clone(), f.message.clone())
}

fn first_edit(d: &Diagnostic) -> u32 {
    d.fix
        .as_ref()
        .and_then(|f| f.edits.iter().map(|e| e.span.start).min())
        .unwrap_or(u32::MAX)
}

/// The candidates whose edits overlap no earlier candidate's.
fn not_overlapping<'a>(candidates: &[&'a Diagnostic]) -> Vec<&'a Diagnostic> {
    let mut taken: Vec<(u32, u32)> = Vec::new();
    let mut chosen = Vec::new();
    for &d in candidates {
        let Some(fix) = &d.fix else { continue };
        let spans: Vec<(u32, u32)> = fix
            .edits
            .iter()
            .map(|e| (e.span.start, e.span.end))
            .collect();
        // Two edits touch when they overlap, or are insertions at one place.
        let clash = spans.iter().any(|&(s, e)| {
            taken
                .iter()
                .any(|&(ts, te)| s == ts || (s < te && ts < e) || (s == e && s == te))
        });
        if !clash {
            taken.extend(spans);
            chosen.push(d);
        }
    }
    chosen
}

/// `text` with the edits of `fixes` applied (they do not overlap).
#[must_use]
pub fn apply(text: &str, fixes: &[&Diagnostic]) -> String {
    let mut edits: Vec<&Edit> = fixes
        .iter()
        .filter_map(|d| d.fix.as_ref())
        .flat_map(|f| &f.edits)
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut out = text.to_string();
    for edit in edits {
        out.replace_range(edit.span.range(), &edit.replacement);
    }
    out
}

/// Whether the findings after the fixes are acceptable: the file parses, each
/// fixed finding is gone, and no finding is new.
fn judge(before: &[Diagnostic], after: &[Diagnostic], fixed: &[&Diagnostic]) -> Result<(), String> {
    if let Some(syntax) = after.iter().find(|d| d.code == Code::YamlSyntax)
        && !before.iter().any(|d| d.code == Code::YamlSyntax)
    {
        return Err(format!("the file would not parse: {}", syntax.message));
    }
    let mut counts: HashMap<(Code, &str), isize> = HashMap::new();
    for d in before {
        *counts.entry((d.code, &d.message)).or_default() += 1;
    }
    for d in fixed {
        *counts.entry((d.code, &d.message)).or_default() -= 1;
    }
    for d in after {
        let left = counts.entry((d.code, &d.message)).or_default();
        *left -= 1;
        if *left < 0 {
            return if fixed
                .iter()
                .any(|f| f.code == d.code && f.message == d.message)
            {
                Err("the finding would remain".to_string())
            } else {
                Err(format!(
                    "it would add a finding: {} {}",
                    d.code.id(),
                    d.message
                ))
            };
        }
    }
    Ok(())
}

fn record(applied: &mut Vec<Applied>, text: &str, fixes: &[&Diagnostic]) {
    for d in fixes {
        applied.push(Applied {
            code: d.code,
            line: line_of(text, d.span.start as usize),
            fix: d
                .fix
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        });
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A unified diff of `before` and `after`, under the name `path`.
#[must_use]
pub fn unified_diff(path: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{FileId, Span};

    fn finding(
        code: Code,
        message: &str,
        start: usize,
        end: usize,
        to: &str,
        safe: bool,
    ) -> Diagnostic {
        let span = Span::new(FileId(0), start, end);
        let applicability = if safe {
            Applicability::Safe
        } else {
            Applicability::Unsafe
        };
        Diagnostic::new(code, span, message).with_fix(Fix {
            message: format!("write `{to}`"),
            applicability,
            edits: vec![Edit {
                span,
                replacement: to.to_string(),
                expected: None,
            }],
        })
    }

    /// A toy checker: every `bad` is a finding fixed to `good`, every `worse`
    /// one fixed to `oops`, and `oops` is a finding of its own.
    fn toy(text: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (at, _) in text.match_indices("bad") {
            out.push(finding(Code::UnknownKey, "bad", at, at + 3, "good", true));
        }
        for (at, _) in text.match_indices("worse") {
            out.push(finding(
                Code::UnknownName,
                "worse",
                at,
                at + 5,
                "oops",
                true,
            ));
        }
        for (at, _) in text.match_indices("risky") {
            out.push(finding(
                Code::UnknownNeed,
                "risky",
                at,
                at + 5,
                "fine",
                false,
            ));
        }
        for _ in text.match_indices("oops") {
            out.push(Diagnostic::new(
                Code::WrongType,
                Span::point(FileId(0), 0),
                "oops",
            ));
        }
        out
    }

    #[test]
    fn applies_what_holds_and_refuses_what_adds_a_finding() {
        let text = "# keep me\nbad: 1  # and me\nworse: 2\nbad: 3\n";
        let outcome = fix_text(text, false, &mut toy);
        assert_eq!(
            outcome.text,
            "# keep me\ngood: 1  # and me\nworse: 2\ngood: 3\n"
        );
        assert_eq!(outcome.applied.len(), 2);
        assert_eq!(outcome.refused.len(), 1);
        assert_eq!(outcome.refused[0].code, Code::UnknownName);
        assert_eq!(
            outcome.refused[0].reason,
            "it would add a finding: WF102 oops"
        );
    }

    #[test]
    fn unsafe_fixes_wait_for_their_flag() {
        let text = "risky: 1\n";
        assert_eq!(fix_text(text, false, &mut toy).text, text);
        assert_eq!(fix_text(text, true, &mut toy).text, "fine: 1\n");
    }

    #[test]
    fn a_fix_that_breaks_the_file_is_refused() {
        let mut check = |text: &str| {
            let mut out = Vec::new();
            if text.contains('[') {
                out.push(Diagnostic::new(
                    Code::YamlSyntax,
                    Span::point(FileId(0), 0),
                    "unclosed",
                ));
            }
            if text.contains('x') {
                out.push(finding(Code::UnknownKey, "x", 0, 1, "[", true));
            }
            out
        };
        let outcome = fix_text("x: 1\n", false, &mut check);
        assert_eq!(outcome.text, "x: 1\n");
        assert_eq!(
            outcome.refused[0].reason,
            "the file would not parse: unclosed"
        );
    }

    #[test]
    fn a_diff_names_the_file() {
        let diff = unified_diff("conf/a.yml", "a: 1\n", "b: 1\n");
        assert!(
            diff.starts_with("--- a/conf/a.yml\n+++ b/conf/a.yml\n"),
            "{diff}"
        );
        assert!(diff.contains("-a: 1\n+b: 1\n"), "{diff}");
    }
}
