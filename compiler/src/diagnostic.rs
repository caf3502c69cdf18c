//! Diagnostics as data: a code, a severity, a message, labelled spans and advice.
//!
//! Nothing here renders; see `render` for the output formats.

mod code;

pub use code::Code;

use serde::{Deserialize, Serialize};

use crate::span::{FileId, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary place that explains the primary one ("first defined here").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// What is wrong, lowercase, names quoted with backticks.
    pub message: String,
    /// Where it is wrong.
    pub span: Span,
    /// Text under the primary span; may be empty.
    pub label: String,
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// A mechanical correction (`wfc check --fix`, an editor's quick fix).
    pub fix: Option<Fix>,
}

/// Whether `wfc check --fix` applies a fix on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applicability {
    /// Keeps what the workflow means (a misspelt key with one candidate, a
    /// duplicate key whose values are equal).
    Safe,
    /// May change what the workflow does; applied only with `--unsafe-fixes`.
    Unsafe,
}

impl Applicability {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

/// Replace the bytes of `span` with `replacement` (an insertion when the span
/// is empty, a deletion when the replacement is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
    /// The text the span must hold for the edit to apply (checked once against
    /// the file, see [`Fix::holds`]): a fix made from a decoded scalar is dropped
    /// when the file writes it otherwise (quoted, escaped).
    pub expected: Option<String>,
}

/// A correction: edits that do not overlap, applied together or not at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    /// What the fix does, e.g. "replace `ecoh` with `echo`".
    pub message: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// Replaces `from`, written plainly at `span`, with `to`.
    #[must_use]
    pub fn rename(span: Span, from: &str, to: &str, applicability: Applicability) -> Self {
        Self {
            message: format!("replace `{from}` with `{to}`"),
            applicability,
            edits: vec![Edit {
                span,
                replacement: to.to_string(),
                expected: Some(from.to_string()),
            }],
        }
    }

    /// Whether every edit's span holds the text it expects in `text` (and lies
    /// on character boundaries inside it).
    #[must_use]
    pub fn holds(&self, text: &str) -> bool {
        self.edits.iter().all(|edit| {
            let Some(found) = text.get(edit.span.range()) else {
                return false;
            };
            edit.expected.as_deref().is_none_or(|e| e == found)
        })
    }
}

impl Diagnostic {
    /// A diagnostic with the code's own severity.
    #[must_use]
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
            fix: None,
        }
    }

    #[must_use]
    pub fn label(mut self, text: impl Into<String>) -> Self {
        self.label = text.into();
        self
    }

    #[must_use]
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: text.into(),
        });
        self
    }

    #[must_use]
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }

    /// Sets the help only when there is one.
    #[must_use]
    pub fn maybe_help(mut self, text: Option<String>) -> Self {
        if text.is_some() {
            self.help = text;
        }
        self
    }

    #[must_use]
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// The help "did you mean `x`?" and, when `x` is a likely correction of the
    /// text at the primary span, the fix that writes it: safe when `x` is the
    /// only close candidate, unsafe when others are close too.
    #[must_use]
    pub fn did_you_mean<'a>(
        self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.did_you_mean_or(word, candidates, || None)
    }

    /// [`Diagnostic::did_you_mean`], with `otherwise` as the help when no
    /// candidate is close.
    #[must_use]
    pub fn did_you_mean_or<'a>(
        mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        otherwise: impl FnOnce() -> Option<String>,
    ) -> Self {
        match close_candidates(word, candidates) {
            Some(Close { best, unique }) => {
                self.help = Some(format!("did you mean `{best}`?"));
                let applicability = if unique {
                    Applicability::Safe
                } else {
                    Applicability::Unsafe
                };
                self.fix = Some(Fix::rename(self.span, word, best, applicability));
            }
            None => {
                if let Some(help) = otherwise() {
                    self.help = Some(help);
                }
            }
        }
        self
    }

    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// Moves every span to `file` (diagnostics read back from the cache).
    pub fn set_file(&mut self, file: FileId) {
        self.span.file = file;
        for label in &mut self.secondary {
            label.span.file = file;
        }
        if let Some(fix) = &mut self.fix {
            for edit in &mut fix.edits {
                edit.span.file = file;
            }
        }
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Drops the fixes whose edits do not hold in `text` (see [`Fix::holds`]).
pub fn drop_broken_fixes(text: &str, diagnostics: &mut [Diagnostic]) {
    for d in diagnostics {
        if d.fix.as_ref().is_some_and(|f| !f.holds(text)) {
            d.fix = None;
        }
    }
}

/// A place to put diagnostics while walking something.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Sorted by file, then position, then code: the order every renderer prints.
    #[must_use]
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (a.span.file, a.span.start, a.span.end, a.code).cmp(&(
                b.span.file,
                b.span.start,
                b.span.end,
                b.code,
            ))
        });
        self.items.dedup();
        self.items
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Comparisons "did you mean" may make for one piece of work (a file's model, a
/// file's checks, the checks across files). Each finding compares its word with
/// every candidate: a file with thousands of mistakes among thousands of names
/// would take quadratic time, so past this many comparisons findings come without
/// a suggestion.
pub const SUGGESTION_BUDGET: usize = 2_000_000;

thread_local! {
    static SUGGESTIONS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(SUGGESTION_BUDGET) };
}

/// Gives this thread a fresh [`SUGGESTION_BUDGET`] (at the start of a piece of
/// work, so that what is suggested does not depend on what ran before).
pub fn reset_suggestion_budget() {
    SUGGESTIONS_LEFT.set(SUGGESTION_BUDGET);
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    close_candidates(word, candidates).map(|c| c.best)
}

/// The closest candidate and whether it is the only close one.
#[derive(Debug, PartialEq, Eq)]
pub struct Close<'a> {
    pub best: &'a str,
    pub unique: bool,
}

/// How alike (Jaro-Winkler, case ignored) a word and a candidate must be for
/// "did you mean".
const CLOSE: f64 = 0.8;

/// The closest candidate to `word` and whether no other candidate is close
/// enough to be meant instead (then a fix may write it on its own).
pub fn close_candidates<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<Close<'a>> {
    let word = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    let mut others = false;
    let mut lowered = String::new();
    for candidate in candidates {
        let left = SUGGESTIONS_LEFT.get();
        if left == 0 {
            return None;
        }
        SUGGESTIONS_LEFT.set(left - 1);
        lowered.clear();
        lowered.extend(candidate.chars().map(|c| c.to_ascii_lowercase()));
        let score = strsim::jaro_winkler(&word, &lowered);
        if score < CLOSE {
            continue;
        }
        match best {
            Some((_, b)) if b == candidate => {}
            Some((s, _)) if score <= s => others = true,
            Some(_) => {
                others = true;
                best = Some((score, candidate));
            }
            None => best = Some((score, candidate)),
        }
    }
    best.map(|(_, best)| Close {
        best,
        unique: !others,
    })
}

/// Names for a message: `` `a`, `b`, `c` ``, at most the first 20, then how many
/// more there are when the list knows its length ("none" when there are none).
/// Only what is shown is looked at, so a message costs the same for 20 names or
/// 20,000.
pub fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 20;
    let mut names = names.into_iter();
    let shown: Vec<String> = names
        .by_ref()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect();
    if shown.is_empty() {
        return "none".to_string();
    }
    match names.size_hint() {
        (0, Some(0)) => shown.join(", "),
        (more, Some(exact)) if more == exact => format!("{} and {more} more", shown.join(", ")),
        _ if names.next().is_none() => shown.join(", "),
        _ => format!("{} and more", shown.join(", ")),
    }
}

/// "did you mean `x`?" when a candidate is close.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("ecoh", ["echo", "sleep"]), Some("echo"));
        assert_eq!(
            did_you_mean("max_workers", ["max-workers", "stages"]),
            Some("max-workers")
        );
        assert_eq!(did_you_mean("zzz", ["echo", "sleep"]), None);
    }

    #[test]
    fn a_fix_is_safe_only_when_one_candidate_is_close() {
        let unique = close_candidates("ecoh", ["echo", "sleep"]).expect("close");
        assert_eq!(
            unique,
            Close {
                best: "echo",
                unique: true
            }
        );
        let two = close_candidates("name", ["names", "named", "stages"]).expect("close");
        assert!(!two.unique, "{two:?}");
    }

    #[test]
    fn a_fix_holds_only_where_the_file_writes_the_word() {
        let span = Span::new(FileId(0), 0, 4);
        let fix = Fix::rename(span, "ecoh", "echo", Applicability::Safe);
        assert!(fix.holds("ecoh: x"));
        assert!(!fix.holds("\"ecoh\": x"));
        assert!(!fix.holds("ec"));
    }
}
