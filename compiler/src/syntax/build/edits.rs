//! Exact edits of a workflow file's text, for the fixes findings carry.
//!
//! Each helper looks at the bytes around a node and returns an edit only when
//! the text has the simple shape the edit assumes (block style, the entry on
//! lines of its own, nothing but a comment after it); anything else gets no
//! fix rather than a guess. Everything outside an edit's span stays as written.

use std::ops::Range;

use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix};
use crate::span::Span;
use crate::syntax::yaml::{Entry, Node, NodeKind};

/// The offset where the line holding `at` starts.
pub(crate) fn line_start(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .rfind(['\n', '\r'])
        .map_or(0, |i| i + 1)
}

/// Whether only spaces stand between the start of `at`'s line and `at`.
pub(crate) fn first_on_line(text: &str, at: usize) -> bool {
    text[line_start(text, at)..at].bytes().all(|b| b == b' ')
}

/// From `at` (inside a line), the offset just past that line's break (or the
/// end of the text), when the rest of the line is blank or a comment.
pub(crate) fn rest_of_line(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let tail = &rest[..end];
    let content = tail.trim_start_matches([' ', '\t']);
    if !(content.is_empty() || content.starts_with('#')) {
        return None;
    }
    // A comment must follow a blank (or start the rest of the line).
    if content.starts_with('#') && content.len() == tail.len() && at > 0 {
        let before = text.as_bytes()[at - 1];
        if !matches!(before, b' ' | b'\t' | b'\n' | b'\r') {
            return None;
        }
    }
    let after = match rest.as_bytes().get(end) {
        Some(b'\r') if rest.as_bytes().get(end + 1) == Some(&b'\n') => end + 2,
        Some(_) => end + 1,
        None => end,
    };
    Some(at + after)
}

/// The column (in bytes, indentation is spaces) of `at`.
fn column(text: &str, at: usize) -> usize {
    at - line_start(text, at)
}

/// The indentation of each line of `text` from `from` on that holds content
/// (not blank, not only a comment), in order.
fn content_indents(text: &str, from: usize) -> impl Iterator<Item = (usize, &str)> {
    text[from..]
        .split_inclusive(['\n', '\r'])
        .filter_map(|line| {
            let body = line.trim_end_matches(['\n', '\r']);
            let trimmed = body.trim_start_matches(' ');
            (!trimmed.is_empty() && !trimmed.starts_with('#'))
                .then(|| (body.len() - trimmed.len(), trimmed))
        })
}

/// Where the value of `entry` ends in the text: its own span's end, or for an
/// alias (whose node carries its anchor's span) the end of the `*name` written
/// after the key. `None` when the text does not show the value after its key.
fn value_end(text: &str, entry: &Entry) -> Option<usize> {
    let key_end = entry.key.span.end as usize;
    let value = &entry.value;
    let after_colon = || {
        let rest = text.get(key_end..)?;
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let colon = trimmed.strip_prefix(':')?;
        Some(text.len() - colon.len())
    };
    if (value.span.start as usize) < key_end {
        // `key: *name`.
        let at = after_colon()?;
        let rest = &text[at..];
        let alias = rest.trim_start_matches([' ', '\t']).strip_prefix('*')?;
        let name_len = alias
            .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
            .unwrap_or(alias.len());
        return (name_len > 0).then(|| text.len() - alias.len() + name_len);
    }
    if matches!(value.kind, NodeKind::Null) && value.span.start == value.span.end {
        // `key:` with nothing after it.
        return after_colon();
    }
    let end = (value.span.end as usize).min(text.len());
    Some(text[..end].trim_end().len().max(value.span.start as usize))
}

/// The whole lines of a block mapping entry: from the start of its key's line
/// to the end of its value's last line, line break included. Only when the key
/// is the first thing on its line, a comment at most follows the value, and
/// the lines after it are not part of it (indented no deeper than the key).
pub(crate) fn entry_lines(text: &str, entry: &Entry) -> Option<Range<usize>> {
    let key_start = entry.key.span.start as usize;
    if key_start > text.len() || !first_on_line(text, key_start) {
        return None;
    }
    let end = rest_of_line(text, value_end(text, entry)?)?;
    let start = line_start(text, key_start);
    let indent = key_start - start;
    // Lines inside the entry are deeper than its key (a list may sit at the
    // key's own column); the next line with content is not.
    let inner_ok = content_indents(&text[..end], start)
        .skip(1)
        .all(|(i, body)| i > indent || (i == indent && body.starts_with('-')));
    let next_ok = content_indents(text, end)
        .next()
        .is_none_or(|(i, body)| i < indent || (i == indent && !body.starts_with('-')));
    (inner_ok && next_ok && !defines_used_anchor(text, start..end)).then_some(start..end)
}

/// Whether `range` defines an anchor (`&name`) that the text after it uses
/// (`*name`): deleting it would leave the alias without its anchor.
pub(crate) fn defines_used_anchor(text: &str, range: Range<usize>) -> bool {
    let inside = &text[range.clone()];
    let after = &text[range.end..];
    inside.match_indices('&').any(|(i, _)| {
        let name: String = inside[i + 1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .collect();
        !name.is_empty() && after.contains(&format!("*{name}"))
    })
}

/// Deletes `range` of `text`.
pub(crate) fn delete(text: &str, range: Range<usize>, file: crate::span::FileId) -> Edit {
    Edit {
        span: Span::new(file, range.start, range.end),
        replacement: String::new(),
        expected: Some(text[range].to_string()),
    }
}

/// Whether two values are the same, wherever they are written.
pub(crate) fn same_value(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Float(x), NodeKind::Float(y)) => x.to_bits() == y.to_bits(),
        (NodeKind::Seq(x), NodeKind::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (NodeKind::Map(x), NodeKind::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| a.key.name == b.key.name && same_value(&a.value, &b.value))
        }
        (x, y) => x == y,
    }
}

/// The fix of a key written twice: the later entry goes when both say the
/// same (safe); otherwise the earlier goes (unsafe: ddeutil-workflow, through
/// PyYAML, keeps the last one, so this keeps what it ran).
pub(crate) fn duplicate_entry_fix(
    text: &str,
    first: &Entry,
    again: &Entry,
    noun: &str,
) -> Option<Fix> {
    let name = &again.key.name;
    let (gone, applicability, message) = if same_value(&first.value, &again.value) {
        (
            again,
            Applicability::Safe,
            format!("remove the repeated {noun} `{name}` (both have the same value)"),
        )
    } else {
        (
            first,
            Applicability::Unsafe,
            format!("remove the first {noun} `{name}`; ddeutil-workflow keeps the last one"),
        )
    };
    let range = entry_lines(text, gone)?;
    Some(Fix {
        message,
        applicability,
        edits: vec![delete(text, range, gone.key.span.file)],
    })
}

/// Removes an entry the model ignores (an inner `name:` or `id:` that the
/// mapping's key overrides): safe, as nothing reads it. Only when its mapping
/// keeps other entries (it would become empty otherwise) and the entry is
/// lines of its own.
pub(crate) fn remove_ignored_entry(text: &str, entries: usize, entry: &Entry) -> Option<Fix> {
    if entries < 2 {
        return None;
    }
    let range = entry_lines(text, entry)?;
    Some(Fix {
        message: format!("remove the ignored `{}:`", entry.key.name),
        applicability: Applicability::Safe,
        edits: vec![delete(text, range, entry.key.span.file)],
    })
}

/// Sets a fix when there is one.
pub(crate) trait MaybeFix {
    #[must_use]
    fn maybe_fix(self, fix: Option<Fix>) -> Self;
}

impl MaybeFix for Diagnostic {
    fn maybe_fix(mut self, fix: Option<Fix>) -> Self {
        if fix.is_some() {
            self.fix = fix;
        }
        self
    }
}

/// Removes the list item at `item` (a scalar written in place): its whole line
/// in a block list (`- x`), or `, x` (with the blanks before the comma) in a
/// flow list. `None` for the first item
/// of a flow list or any other shape.
pub(crate) fn list_item_removal(text: &str, item: Span) -> Option<Edit> {
    let (start, end) = (item.start as usize, item.end as usize);
    if end > text.len() || start >= end {
        return None;
    }
    // A quoted scalar's span may take the blanks after it.
    let end = start + text[start..end].trim_end().len();
    let before = text[..start].trim_end_matches([' ', '\t']);
    if let Some(dash) = before.strip_suffix('-') {
        if dash.len() < line_start(text, start) || !first_on_line(text, dash.len()) {
            return None;
        }
        let range = line_start(text, start)..rest_of_line(text, end)?;
        if defines_used_anchor(text, range.clone()) {
            return None;
        }
        return Some(delete(text, range, item.file));
    }
    let before = before.trim_end_matches([' ', '\t', '\n', '\r']);
    // From the end of the previous item (blanks before the comma go too).
    let comma = before
        .strip_suffix(',')?
        .trim_end_matches([' ', '\t'])
        .len();
    // The item ends the entry: a comma or the closing bracket follows.
    let after = text[end..].trim_start_matches([' ', '\t', '\n', '\r']);
    if !(after.starts_with(',') || after.starts_with(']')) {
        return None;
    }
    if defines_used_anchor(text, comma..end) {
        return None;
    }
    Some(delete(text, comma..end, item.file))
}

/// Rewrites `on:` written as a list of schedules (`on_key` its key, `list`
/// the list) as `on: {schedule: [...]}`: a flow list is wrapped in braces, a
/// block list gets a `schedule:` key and its lines move two columns right.
pub(crate) fn schedule_list_fix(text: &str, on_key: Span, list: &Node) -> Option<Fix> {
    let (mut start, end) = (list.span.start as usize, list.span.end as usize);
    // A block list at its key's column starts at its first item, after `- `.
    if let Some(dash) = text
        .get(..start)
        .and_then(|t| t.trim_end_matches([' ', '\t']).strip_suffix('-'))
        && !text[start..].starts_with('-')
        && dash.len() > on_key.end as usize
    {
        start = dash.len();
    }
    let key_end = on_key.end as usize;
    if end > text.len() || start < key_end || !matches!(list.kind, NodeKind::Seq(_)) {
        return None;
    }
    // Only a colon, blanks and a comment stand between the key and the list.
    let between = text[key_end..start].trim_start_matches([' ', '\t']);
    let between = between.strip_prefix(':')?;
    let fix = |edit: Edit| Fix {
        message: "write the schedules under `on: {schedule: ...}`".to_string(),
        applicability: Applicability::Safe,
        edits: vec![edit],
    };
    if text[start..].starts_with('[') {
        if !between.trim_matches([' ', '\t']).is_empty() || !text[..end].ends_with(']') {
            return None;
        }
        let written = &text[start..end];
        return Some(fix(Edit {
            span: Span::new(list.span.file, start, end),
            replacement: format!("{{schedule: {written}}}"),
            expected: Some(written.to_string()),
        }));
    }
    // Block: `on:` ends its line (a comment may follow); the list starts a line.
    rest_of_line(text, start - between.len())?;
    if !first_on_line(text, start) || !first_on_line(text, on_key.start as usize) {
        return None;
    }
    let first = line_start(text, start);
    if first <= key_end {
        return None;
    }
    let on_column = column(text, on_key.start as usize);
    let list_column = start - first;
    if list_column < on_column {
        return None;
    }
    // `schedule:` where the list was, or two deeper than `on:` when the list
    // sits at the key's own column (it stays at `schedule:`'s then).
    let schedule_column = if list_column > on_column {
        list_column
    } else {
        on_column + 2
    };
    let mut out = format!("{}schedule:\n", " ".repeat(schedule_column));
    for line in text[first..end].split_inclusive(['\n', '\r']) {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.trim_start_matches([' ', '\t']).is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
    }
    let written = &text[first..end];
    Some(fix(Edit {
        span: Span::new(list.span.file, first, end),
        replacement: out,
        expected: Some(written.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_a_line_is_blank_or_a_comment() {
        assert_eq!(rest_of_line("a: 1\nb", 4), Some(5));
        assert_eq!(rest_of_line("a: 1  # c\r\nb", 4), Some(11));
        assert_eq!(rest_of_line("a: 1", 4), Some(4));
        assert_eq!(rest_of_line("a: 1, b\n", 4), None);
        assert_eq!(rest_of_line("a: 1#c\n", 4), None);
    }

    #[test]
    fn anchors_used_later_are_kept() {
        let text = "a: &x 1\nb: *x\n";
        assert!(defines_used_anchor(text, 0..8));
        assert!(!defines_used_anchor("a: &x 1\nb: 2\n", 0..8));
        assert!(!defines_used_anchor("run: a && b\n", 0..12));
    }
}
